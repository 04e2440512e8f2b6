/// Did-you-mean for model files: `DidYouMean`, plus swapped neighbouring letters (`rleu` → `relu`),
/// the commonest typo in short words.
enum Suggestion {
    static func closest(to word: String, among candidates: [String]) -> String? {
        if let found = DidYouMean.suggestion(for: word, among: candidates) { return found }
        let letters = Array(word.lowercased())
        guard letters.count >= 2 else { return nil }
        for index in 0..<(letters.count - 1) {
            var swapped = letters
            swapped.swapAt(index, index + 1)
            let candidate = String(swapped)
            if let match = candidates.first(where: { $0.lowercased() == candidate }) { return match }
        }
        return nil
    }
}
