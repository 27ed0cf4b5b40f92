// SwiftPM needs one source file per C target; the declaration in include/ is all this target offers.
#include "CFuzzerDriver.h"
