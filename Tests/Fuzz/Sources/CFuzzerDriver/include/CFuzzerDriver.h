#ifndef OPENCTRL_FUZZER_DRIVER_H
#define OPENCTRL_FUZZER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry point for programs that keep their own main (compiler-rt FuzzerInterface.h).
// SwiftPM links every executable with `--defsym main=<module>_main`, so the usual
// LLVMFuzzerTestOneInput-plus-libFuzzer-main setup cannot link; main.swift calls this instead.
int LLVMFuzzerRunDriver(int *argc, char ***argv,
                        int (*callback)(const uint8_t *data, size_t size));

#endif
