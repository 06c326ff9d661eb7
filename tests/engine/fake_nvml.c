/* A stand-in for libnvidia-ml.so.1 with NVML's real signatures (nvml.h), for tests/engine/resources_test.cc:
 * two fake GPUs, or an nvmlInit_v2 failure when FAKE_NVML_INIT_FAIL is set. Built only as a test target. */
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t; /* NVML_SUCCESS = 0, NVML_ERROR_DRIVER_NOT_LOADED = 9 */
typedef struct nvmlDevice_st* nvmlDevice_t;
typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;

typedef struct {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
} nvmlPciInfo_t;

static struct nvmlDevice_st {
  const char* name;
  unsigned long long total, free;
  const char* uuid;
  const char* bus_id;
} devices[2] = {{"Fake GPU A100", 80ull << 30, 79ull << 30, "GPU-0a1b2c3d-0000-1111-2222-333344445555", "00000000:3B:00.0"},
                {"Fake GPU T4", 16ull << 30, 15ull << 30, "GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff", "00000000:AF:00.0"}};
static int initialized;

nvmlReturn_t nvmlInit_v2(void) {
  if (getenv("FAKE_NVML_INIT_FAIL") != NULL) return 9;
  initialized = 1;
  return 0;
}
nvmlReturn_t nvmlShutdown(void) {
  initialized = 0;
  return 0;
}
const char* nvmlErrorString(nvmlReturn_t rc) { return rc == 9 ? "Driver Not Loaded" : rc == 0 ? "Success" : "Unknown Error"; }
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!initialized) return 1; /* NVML_ERROR_UNINITIALIZED */
  *count = 2;
  return 0;
}
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  if (!initialized) return 1;
  if (index >= 2) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
  *device = &devices[index];
  return 0;
}
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
  if (!initialized) return 1;
  if (strlen(device->name) + 1 > length) return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
  strcpy(name, device->name);
  return 0;
}
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  if (!initialized) return 1;
  memory->total = device->total;
  memory->free = device->free;
  memory->used = device->total - device->free;
  return 0;
}
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
  if (!initialized) return 1;
  if (strlen(device->uuid) + 1 > length) return 7;
  strcpy(uuid, device->uuid);
  return 0;
}
nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  if (!initialized) return 1;
  memset(pci, 0, sizeof *pci);
  strcpy(pci->busId, device->bus_id);
  return 0;
}
