/*
 * The endpoint in the guest's sysfs: finding it, its IOMMU group, binding
 * it to vfio-pci, and its PCI config space.
 */
#ifndef VSMMU_ATS_PRI_SYSFS_H
#define VSMMU_ATS_PRI_SYSFS_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

/* PCIe extended capability IDs */
#define PCI_EXT_ATS	0x0f
#define PCI_EXT_PRI	0x13

/* The first line of a file, without its newline; 0 or -1 */
int read_text(const char *path, char *buf, size_t len);

/* Writes text to a file in one write; 0 or -1 */
int write_text(const char *path, const char *text);

/* Fills c->bdf, c->sysdev and c->rid from /sys/bus/pci/devices; 0 or -1 */
int find_endpoint(struct ctx *c);

/* The IOMMU group number, or -1 when the device is not behind an IOMMU */
int iommu_group(struct ctx *c);

/* Binds the endpoint to vfio-pci unless it is already; 0 or -1 */
int bind_vfio(struct ctx *c);

/* Offset of a PCIe extended capability in config space, or 0 */
unsigned int ext_cap(struct ctx *c, unsigned int id);

/* A 16-bit word of config space, 0 if unreadable */
uint16_t cfg_word(struct ctx *c, unsigned int off);

#endif /* VSMMU_ATS_PRI_SYSFS_H */
