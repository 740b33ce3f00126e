import CVSMMU
import SMMU
import Testing
@testable import VSMMUCAPI

/// vsmmu_config and SMMUConfiguration meet through one table
/// (CConfigField.byFeature): every feature maps to one C field, every C
/// field (but `size`) to one feature, and values survive both ways.
@Suite("C config conversion")
struct ConfigConversionTests {
    static func offsetAndSize(_ field: CConfigField) -> (Int, Int) {
        switch field {
        case .flag(let k): (MemoryLayout<vsmmu_config>.offset(of: k)!, MemoryLayout<Bool>.size)
        case .number(let k), .rawValue(let k, _, _): (MemoryLayout<vsmmu_config>.offset(of: k)!, 1)
        }
    }

    @Test func everyFeatureAndEveryCFieldIsMappedOnce() {
        let names = Set(SMMUFeature.all.map(\.name))
        #expect(Set(CConfigField.byFeature.keys) == names)
        // The mapped fields tile the struct after `size` with no gap a
        // forgotten field could sit in, and no byte mapped twice.
        var bytes = [Int](repeating: 0, count: MemoryLayout<vsmmu_config>.size)
        for field in CConfigField.byFeature.values {
            let (offset, size) = Self.offsetAndSize(field)
            for b in offset..<offset + size { bytes[b] += 1 }
        }
        let sizeField = MemoryLayout<vsmmu_config>.offset(of: \.size)!
        let last = CConfigField.byFeature.values.map { Self.offsetAndSize($0) }.map { $0.0 + $0.1 }.max()!
        for b in sizeField + 4..<last { #expect(bytes[b] == 1, "byte \(b) of vsmmu_config mapped \(bytes[b]) times") }
        // What follows the last field is padding only.
        #expect(MemoryLayout<vsmmu_config>.size - last < MemoryLayout<vsmmu_config>.alignment)
    }

    @Test func everyFeatureSurvivesTheRoundTrip() throws {
        let defaults = SMMUConfiguration()
        for feature in SMMUFeature.all {
            var c = defaults
            // A value other than the default for this feature.
            switch feature.value {
            case .flag(let key): c[keyPath: key].toggle()
            case .number(let key): c[keyPath: key] = c[keyPath: key] == 12 ? 13 : 12
            case .choice(let names, let get, let set): set(&c, names.first { $0 != get(c) }!)
            }
            #expect(c != defaults, "\(feature.name)")
            #expect(SMMUConfiguration(c.cConfig) == c, "\(feature.name) lost in the C conversion")
        }
    }
}
