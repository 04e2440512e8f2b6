import Foundation

/// One PyTorch reference case from `Tests/Fixtures/pytorch/NAME.json` (see its README; made by
/// `scripts/fixtures/make_pytorch_fixtures.py`).
public struct PyTorchFixture {
    /// A tensor as PyTorch produced it: row-major data and its shape.
    public struct Tensor {
        public var shape: [Int]
        public var data: [Float]
    }

    public var name: String
    public var config: [String: Any]
    public var tensors: [String: Tensor]

    /// The fixtures folder, `Tests/Fixtures/pytorch` inside the repository: tests read nothing outside it.
    public static var directory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/pytorch")
    }

    /// Loads `NAME.json`; throws with the path when the file is missing or malformed.
    public static func load(_ name: String) throws -> PyTorchFixture {
        let url = directory.appendingPathComponent(name + ".json")
        let data = try Data(contentsOf: url)
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let rawTensors = root["tensors"] as? [String: Any] else {
            throw FixtureError("\(url.path): not a fixture (no 'tensors' object)")
        }
        var tensors: [String: Tensor] = [:]
        for (key, value) in rawTensors {
            guard let entry = value as? [String: Any], let shape = entry["shape"] as? [Int],
                  let values = entry["data"] as? [Any] else {
                throw FixtureError("\(url.path): tensor '\(key)' has no shape/data")
            }
            tensors[key] = Tensor(shape: shape, data: values.map { Float(($0 as? NSNumber)?.doubleValue ?? .nan) })
        }
        return PyTorchFixture(name: root["name"] as? String ?? name, config: root["config"] as? [String: Any] ?? [:],
                              tensors: tensors)
    }

    /// The tensor called `key`; throws naming the fixture when it is absent.
    public func tensor(_ key: String) throws -> Tensor {
        guard let tensor = tensors[key] else { throw FixtureError("fixture \(name) has no tensor '\(key)'") }
        return tensor
    }

    /// An integer config value; a scalar `k` or a pair `[k, k]` reads as `[k, k]` with `pair`.
    public func pair(_ key: String) -> [Int] {
        if let list = config[key] as? [Int] { return list }
        if let value = config[key] as? Int { return [value, value] }
        return []
    }

    /// Names of every fixture whose file name starts with `prefix`. When the folder is unreadable or holds
    /// none, the list is one name that does not exist, so a parameterised test fails on loading it
    /// instead of running zero cases and passing.
    public static func names(withPrefix prefix: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let names = files.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
        return names.isEmpty ? [prefix + "MISSING"] : names
    }
}

/// A fixture that could not be read.
public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Largest error of `actual` against `expected`, relative with an absolute floor of `floor`:
/// |a − e| / max(|e|, floor). Returns infinity on a length mismatch or NaN.
public func maxRelativeError(_ actual: [Float], _ expected: [Float], floor: Float = 1e-3) -> Float {
    guard actual.count == expected.count else { return .infinity }
    var worst: Float = 0
    for (a, e) in zip(actual, expected) {
        let error = abs(a - e) / max(abs(e), floor)
        if error.isNaN { return .infinity }
        worst = max(worst, error)
    }
    return worst
}

/// The error floor for comparing against a reference: 1 % of its largest magnitude (at least `minimum`), so
/// values that cancel to near zero are judged against the tensor's scale. A float32 sum is off by about an ulp
/// of its largest partial sums, not of its result: an element of a gradient whose largest entries are ~25
/// (ulp 1.9e-6) may be 2e-6 off, 2e-4 of an element of 0.01.
public func scaledFloor(_ values: [Float], minimum: Float = 1e-3) -> Float {
    max(minimum, 1e-2 * (values.map { abs($0) }.max() ?? 0))
}
