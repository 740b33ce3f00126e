import VSMMUServer
print("vsmmu: not yet")
