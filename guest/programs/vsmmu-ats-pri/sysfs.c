/*
 * The endpoint in sysfs: lookup by vendor:device, IOMMU group, driver
 * binding, and config space through the device's config file.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "sysfs.h"
#include "vsmmu-testdev-regs.h"

int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static unsigned long read_hex(const char *dir, const char *file)
{
	char path[400], buf[64];

	snprintf(path, sizeof(path), "%.300s/%.64s", dir, file);
	return read_text(path, buf, sizeof(buf)) ? 0 : strtoul(buf, NULL, 16);
}

int find_endpoint(struct ctx *c)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	unsigned int dom, bus, dev, fn;

	if (!d)
		return setup_error("opendir /sys/bus/pci/devices");
	while ((e = readdir(d))) {
		char dir[300];

		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s",
			 e->d_name);
		if (read_hex(dir, "vendor") == TESTDEV_VENDOR_ID &&
		    read_hex(dir, "device") == TESTDEV_DEVICE_ID &&
		    sscanf(e->d_name, "%x:%x:%x.%x", &dom, &bus, &dev,
			   &fn) == 4) {
			snprintf(c->bdf, sizeof(c->bdf), "%.31s", e->d_name);
			snprintf(c->sysdev, sizeof(c->sysdev),
				 "/sys/bus/pci/devices/%.31s", e->d_name);
			c->rid = bus << 8 | dev << 3 | fn;
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	errno = ENODEV;
	return setup_error("no vsmmu-testdev (1234:11ec) in "
			   "/sys/bus/pci/devices (boot with --testdev)");
}

int iommu_group(struct ctx *c)
{
	char path[300], target[256];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/iommu_group", c->sysdev);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = 0;
	return atoi(strrchr(target, '/') + 1);
}

int bind_vfio(struct ctx *c)
{
	char path[300], drv[256];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/driver", c->sysdev);
	n = readlink(path, drv, sizeof(drv) - 1);
	if (n >= 0) {
		drv[n] = 0;
		if (strstr(drv, "/vfio-pci"))
			return 0;
		snprintf(path, sizeof(path), "%s/driver/unbind", c->sysdev);
		if (write_text(path, c->bdf))
			return setup_error("unbind the current driver");
	}
	snprintf(path, sizeof(path), "%s/driver_override", c->sysdev);
	if (write_text(path, "vfio-pci"))
		return setup_error("write driver_override");
	if (write_text("/sys/bus/pci/drivers_probe", c->bdf))
		return setup_error("bind vfio-pci (drivers_probe)");
	return 0;
}

unsigned int ext_cap(struct ctx *c, unsigned int id)
{
	char path[300];
	unsigned int off = 0x100;
	uint32_t hdr;
	int fd;

	snprintf(path, sizeof(path), "%s/config", c->sysdev);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	for (int i = 0; i < 64 && off >= 0x100; i++) {
		if (pread(fd, &hdr, 4, off) != 4 || hdr == 0 || hdr == ~0u)
			break;
		if ((hdr & 0xffff) == id) {
			close(fd);
			return off;
		}
		off = hdr >> 20;
	}
	close(fd);
	return 0;
}

uint16_t cfg_word(struct ctx *c, unsigned int off)
{
	char path[300];
	uint16_t v = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/config", c->sysdev);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		if (pread(fd, &v, 2, off) != 2)
			v = 0;
		close(fd);
	}
	return v;
}
