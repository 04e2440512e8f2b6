import Foundation

extension RunConfig {
    /// The resolved config as YAML with every default written out, in a fixed key order.
    /// `RunConfigLoader.parse(yamlText, …)` reads it back to an equal config (model path is absolute).
    public var yamlText: String {
        var lines = ["# cnnspec \(name): resolved run config (every default filled in)"]
        ConfigWriter(config: self).writeSection("", indent: "", into: &lines)
        return lines.joined(separator: "\n") + "\n"
    }

    /// FNV-1a 64 of `yamlText`, as 16 hex digits: equal resolved configs have equal hashes.
    public var hash: String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in yamlText.utf8 {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01b3
        }
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// Writes a config's keys in schema order: block sections as indented lines, flow sections as
/// `{key: value, …}`, only the keys the chosen optimizer and schedule take.
struct ConfigWriter {
    let config: RunConfig

    /// The key's value, or nil when the resolved config leaves it out.
    private func value(of key: ConfigKey) -> ConfigText? {
        if let variant = key.variant, !variant.takes(key.name, in: config) { return nil }
        switch key.shape {
        case .value:
            guard let text = key.write(config) else { return nil }
            if key.writePolicy == .unlessDefault && text == key.defaultWritten { return nil }
            return text
        case .section(let style):
            return style == .flow ? .inline(flow(key.path)) : nil
        case .optionalSection(let style):
            guard key.isPresent?(config) == true else { return key.writePolicy == .always ? .inline("null") : nil }
            return style == .flow ? .inline(flow(key.path)) : nil
        }
    }

    private func flow(_ section: String) -> String {
        let fields = ConfigSchema.children(of: section).compactMap { key in value(of: key).map { "\(key.name): \($0.inline)" } }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    func writeSection(_ section: String, indent: String, into lines: inout [String]) {
        for key in ConfigSchema.children(of: section) {
            switch key.shape {
            case .section(.block), .optionalSection(.block):
                if case .optionalSection = key.shape, key.isPresent?(config) != true {
                    if key.writePolicy == .always { lines.append(indent + key.name + ": null") }
                    continue
                }
                lines.append(indent + key.name + ":")
                writeSection(key.path, indent: indent + "  ", into: &lines)
            default:
                switch value(of: key) {
                case nil: break
                case .inline(let text)?: lines.append(indent + key.name + ": " + text)
                case .blockList(let items)?:
                    lines.append(indent + key.name + ":" + (items.isEmpty ? " []" : ""))
                    lines += items.map { indent + "  - " + $0 }
                }
            }
        }
    }
}

/// Transforms as the resolved config writes them.
enum TransformText {
    static func yaml(_ transform: TransformSpec) -> String {
        switch transform {
        case .scale: return "scale"
        case .normalize(.auto): return "normalize: auto"
        case .normalize(.fixed(let mean, let std)):
            return "normalize: {mean: [\(mean.map(ConfigSchema.number).joined(separator: ", "))], std: [\(std.map(ConfigSchema.number).joined(separator: ", "))]}"
        case .resize(let height, let width): return "resize: [\(height), \(width)]"
        case .randomRotation(let degrees): return "random_rotation: \(ConfigSchema.number(degrees))"
        case .randomCrop(let height, let width, let padding):
            return "random_crop: {size: [\(height), \(width)], padding: \(padding)}"
        case .horizontalFlip(let probability): return "horizontal_flip: \(ConfigSchema.number(probability))"
        case .verticalFlip(let probability): return "vertical_flip: \(ConfigSchema.number(probability))"
        case .resizeShorter(let size): return "resize: \(size)"
        case .centerCrop(let height, let width): return "center_crop: [\(height), \(width)]"
        case .randomResizedCrop(let crop):
            return "random_resized_crop: {size: [\(crop.height), \(crop.width)], scale: \(range(crop.scale)), ratio: \(range(crop.ratio))}"
        case .colorJitter(let jitter):
            let parts = [("brightness", jitter.brightness), ("contrast", jitter.contrast), ("saturation", jitter.saturation),
                         ("hue", jitter.hue)].compactMap { name, value in value.map { "\(name): \(range($0))" } }
            return "color_jitter: {\(parts.joined(separator: ", "))}"
        }
    }

    private static func range(_ range: ClosedRange<Double>) -> String {
        "[\(ConfigSchema.number(range.lowerBound)), \(ConfigSchema.number(range.upperBound))]"
    }
}

extension TransformSpec {
    /// The step as a config writes it (`resize: [32, 32]`, `normalize: {mean: [0.5], std: [0.25]}`).
    public var yamlText: String { TransformText.yaml(self) }
}
