#include "vsmmu.h"
