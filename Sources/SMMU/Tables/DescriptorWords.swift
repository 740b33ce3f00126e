/// A 64-byte descriptor (STE or CD) copied out of guest memory once, read
/// through its layout's `BitField`s (`STE.Fields`, `CD.Fields`).
struct DescriptorWords: BitRecord {
    private let w: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    /// Nil unless exactly 8 words.
    init?(_ words: [UInt64]) {
        guard words.count == 8 else { return nil }
        w = (words[0], words[1], words[2], words[3], words[4], words[5], words[6], words[7])
    }

    func word(_ i: Int) -> UInt64 {
        switch i {
        case 0: w.0
        case 1: w.1
        case 2: w.2
        case 3: w.3
        case 4: w.4
        case 5: w.5
        case 6: w.6
        default: w.7
        }
    }
}
