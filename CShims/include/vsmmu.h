/* vsmmu.h - the C interface of the vSMMU SMMUv3 model. Placeholder. */
#ifndef VSMMU_H
#define VSMMU_H
#include <stdint.h>
#endif
