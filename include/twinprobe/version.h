/* The version, from the Makefile (-DTP_VERSION); one fallback for other builds. */
#ifndef TWINPROBE_VERSION_H
#define TWINPROBE_VERSION_H

#ifndef TP_VERSION
#define TP_VERSION "0.0.0-unknown"
#endif

#endif
