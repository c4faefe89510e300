#ifndef ALGOTRADER_CZEROMQ_SHIM_H
#define ALGOTRADER_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
