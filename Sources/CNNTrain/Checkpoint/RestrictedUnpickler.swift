/// A pickle reader for `torch.save`'s `data.pkl` that builds only what a state_dict is made of and never
/// executes anything, modelled on PyTorch's own `weights_only=True` loader (`torch/_weights_only_unpickler.py`):
///
/// - opcodes: the binary protocols' (2–5) constants, strings, tuples, lists, dicts, memo, marks,
///   `GLOBAL`/`STACK_GLOBAL`, `REDUCE`, `BUILD`, `BINPERSID` and framing — nothing else (no `INST`, `OBJ`,
///   `NEWOBJ`, `EXT*`, text protocol 0 values);
/// - globals: only `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter` /
///   `_rebuild_parameter_with_state` and the `torch.*Storage` dtypes; any other global (`os.system`,
///   `builtins.eval`, a model class) is refused by name when it is read, before anything could call it;
/// - `REDUCE` only calls those globals (an empty `OrderedDict()`, a tensor record); `BUILD` only sets
///   (and here discards) the state of an OrderedDict or a tensor;
/// - persistent ids only as torch's storage records `('storage', torch.XStorage, key, location, numel)`.
///
/// Objects live in one flat arena addressed by index, so aliasing through the memo works as in Python,
/// nothing is recursive (no nesting depth can overflow the stack) and reference cycles are harmless.
/// Every length is checked against the bytes that remain before it is used.
struct RestrictedUnpickler {
    /// A value on the stack or in a container.
    enum Value {
        case none, bool(Bool), int(Int64), float(Double), string(String), bytes(Int)
        /// An index into `objects`.
        case object(Int)
    }

    /// The storage types PyTorch pickles as `torch.<Name>Storage`, by the safetensors dtype they are read as.
    static let storageTypes: [String: String] = [
        "FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16", "DoubleStorage": "F64",
        "LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8", "ByteStorage": "U8",
        "BoolStorage": "U8",
    ]

    /// The globals a file may name.
    enum Global: Equatable {
        case orderedDict, rebuildTensor, rebuildParameter, rebuildParameterWithState
        /// `torch.<Name>Storage`, with its dtype.
        case storageType(dtype: String)

        init?(module: String, name: String) {
            switch (module, name) {
            case ("collections", "OrderedDict"): self = .orderedDict
            case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensor
            case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
            case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
            default:
                guard module == "torch", let dtype = RestrictedUnpickler.storageTypes[name] else { return nil }
                self = .storageType(dtype: dtype)
            }
        }

        static let allowedNames = "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, "
            + "torch._utils._rebuild_parameter_with_state, " + storageTypes.keys.sorted().map { "torch.\($0)" }.joined(separator: ", ")
    }

    /// A tensor storage in the archive (`data/<key>`).
    struct Storage { var dtype: String; var key: String; var elements: Int }

    /// A tensor record: a view of `storage` (offset and strides in elements).
    struct TensorRecord { var storage: Storage; var offset: Int; var shape: [Int]; var strides: [Int] }

    enum Object {
        case tuple([Value]), list([Value])
        /// Pairs in insertion order (a key set twice appears twice; readers take the last value, as Python keeps).
        case dict([(key: Value, value: Value)])
        case global(Global)
        case storage(Storage)
        case tensor(TensorRecord)
    }

    /// What went wrong, for `PATH: not a usable checkpoint: data.pkl: …`.
    struct Failure: Error { var message: String }

    /// Bytes of `data.pkl`; `position` is the next one to read.
    private let bytes: [UInt8]
    private var position = 0
    private(set) var objects: [Object] = []
    private var stack: [Value] = []
    private var marks: [Int] = []
    private var memo: [UInt32: Value] = [:]

    /// More objects, stack values or memo entries than these is not a state_dict (a ResNet-152's has about
    /// 5,000 objects, a stack of at most 2,000 values — pickle batches dict items by 1,000 — and as many memo
    /// entries as objects and strings); they bound the memory a hostile pickle can claim to a few hundred MB.
    static let maximumObjects = 4_000_000
    static let maximumStack = 1_000_000
    static let maximumMemo = 4_000_000
    /// Longer module or attribute names than this are not PyTorch's.
    static let maximumGlobalName = 256

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Runs the pickle to its `STOP` and returns the value it builds (objects in `objects`).
    mutating func load() throws(Failure) -> Value {
        while true {
            let offset = position
            let opcode = try byte()
            guard stack.count < Self.maximumStack, memo.count < Self.maximumMemo else {
                throw Failure(message: "holds more than \(Self.maximumStack) values on its stack or \(Self.maximumMemo) memo entries at byte \(offset); not a state_dict")
            }
            switch opcode {
            case 0x80: _ = try byte()  // PROTO n
            case 0x95: _ = try take(8)  // FRAME: frames are only a read-ahead hint
            case 0x2E:  // STOP
                guard marks.isEmpty, stack.count == 1 else {
                    throw Failure(message: "STOP at byte \(offset) with \(stack.count) values on the stack (corrupt pickle)")
                }
                return stack[0]
            case 0x28: marks.append(stack.count)  // MARK
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4A: stack.append(.int(Int64(Int32(bitPattern: UInt32(try littleEndian(4))))))  // BININT
            case 0x4B: stack.append(.int(Int64(try byte())))  // BININT1
            case 0x4D: stack.append(.int(Int64(try littleEndian(2))))  // BININT2
            case 0x8A: stack.append(.int(try long(Int(try byte()), at: offset)))  // LONG1
            case 0x8B: stack.append(.int(try long(try length(4, at: offset), at: offset)))  // LONG4
            case 0x47:  // BINFLOAT, big-endian
                let raw = try take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                stack.append(.float(Double(bitPattern: raw)))
            case 0x58: stack.append(.string(try text(try length(4, at: offset), at: offset)))  // BINUNICODE
            case 0x8C: stack.append(.string(try text(Int(try byte()), at: offset)))  // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try text(try length(8, at: offset), at: offset)))  // BINUNICODE8
            case 0x42: stack.append(.bytes(try take(try length(4, at: offset)).count))  // BINBYTES
            case 0x43: stack.append(.bytes(try take(Int(try byte())).count))  // SHORT_BINBYTES
            case 0x8E: stack.append(.bytes(try take(try length(8, at: offset)).count))  // BINBYTES8
            case 0x29: try push(.tuple([]))  // EMPTY_TUPLE
            case 0x5D: try push(.list([]))  // EMPTY_LIST
            case 0x7D: try push(.dict([]))  // EMPTY_DICT
            case 0x74: try push(.tuple(try popMark(at: offset)))  // TUPLE
            case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                let count = Int(opcode - 0x84)
                try need(count, at: offset, for: "TUPLE\(count)")
                let items = Array(stack.suffix(count))
                stack.removeLast(count)
                try push(.tuple(items))
            case 0x30: try need(1, at: offset, for: "POP"); stack.removeLast()
            case 0x31: _ = try popMark(at: offset)  // POP_MARK
            case 0x32: try need(1, at: offset, for: "DUP"); stack.append(stack[stack.count - 1])
            case 0x71: try put(UInt32(try byte()), at: offset)  // BINPUT
            case 0x72: try put(UInt32(try littleEndian(4)), at: offset)  // LONG_BINPUT
            case 0x94: try put(UInt32(truncatingIfNeeded: memo.count), at: offset)  // MEMOIZE
            case 0x68: try get(UInt32(try byte()), at: offset)  // BINGET
            case 0x6A: try get(UInt32(try littleEndian(4)), at: offset)  // LONG_BINGET
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line(at: offset), name = try line(at: offset)
                try pushGlobal(module: module, name: name)
            case 0x93:  // STACK_GLOBAL
                try need(2, at: offset, for: "STACK_GLOBAL")
                guard case .string(let name) = stack.removeLast(), case .string(let module) = stack.removeLast() else {
                    throw Failure(message: "STACK_GLOBAL at byte \(offset) without a module and name (corrupt pickle)")
                }
                try pushGlobal(module: module, name: name)
            case 0x51:  // BINPERSID
                try need(1, at: offset, for: "BINPERSID")
                try push(.storage(try storageRecord(stack.removeLast(), at: offset)))
            case 0x52:  // REDUCE
                try need(2, at: offset, for: "REDUCE")
                let arguments = stack.removeLast(), callable = stack.removeLast()
                try push(try call(callable, arguments, at: offset))
            case 0x62:  // BUILD: the state of an OrderedDict (its _metadata) or of a tensor is not needed
                try need(2, at: offset, for: "BUILD")
                stack.removeLast()
                guard case .object(let index) = stack[stack.count - 1] else { throw Failure(message: "BUILD at byte \(offset) on a \(describe(stack[stack.count - 1])); only an OrderedDict or a tensor may have state") }
                switch objects[index] {
                case .dict, .tensor: break
                default: throw Failure(message: "BUILD at byte \(offset) on a \(describe(stack[stack.count - 1])); only an OrderedDict or a tensor may have state")
                }
            case 0x73:  // SETITEM
                try need(3, at: offset, for: "SETITEM")
                let value = stack.removeLast(), key = stack.removeLast()
                try insert([(key, value)], at: offset)
            case 0x75:  // SETITEMS
                let items = try popMark(at: offset)
                guard items.count % 2 == 0 else { throw Failure(message: "SETITEMS at byte \(offset) with an odd number of values (corrupt pickle)") }
                try insert(stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) }, at: offset)
            case 0x61:  // APPEND
                try need(2, at: offset, for: "APPEND")
                try append([stack.removeLast()], at: offset)
            case 0x65: try append(try popMark(at: offset), at: offset)  // APPENDS
            default:
                throw Failure(message: "pickle opcode 0x\(String(opcode, radix: 16)) at byte \(offset) is not one a weights-only load "
                    + "accepts (a state_dict needs only tensors, numbers, strings, tuples, lists and dicts)")
            }
        }
    }

    /// A short description of a value for messages ("a string", "a list", "the global torch.FloatStorage").
    func describe(_ value: Value) -> String {
        switch value {
        case .none: return "None"
        case .bool: return "bool"
        case .int(let number): return "integer \(number)"
        case .float: return "float"
        case .string: return "string"
        case .bytes: return "bytes"
        case .object(let index):
            switch objects[index] {
            case .tuple: return "tuple"
            case .list: return "list"
            case .dict: return "dict"
            case .global: return "global"
            case .storage: return "storage"
            case .tensor: return "tensor"
            }
        }
    }

    // MARK: Reading

    private mutating func byte() throws(Failure) -> UInt8 {
        guard position < bytes.count else { throw Failure(message: "ends at byte \(bytes.count) before its STOP opcode (truncated)") }
        position += 1
        return bytes[position - 1]
    }

    private mutating func take(_ count: Int) throws(Failure) -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else {
            throw Failure(message: "needs \(count) bytes at byte \(position) but only \(bytes.count - position) remain (truncated or corrupt)")
        }
        position += count
        return bytes[(position - count)..<position]
    }

    private mutating func littleEndian(_ count: Int) throws(Failure) -> UInt64 {
        try take(count).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// A length field of `count` bytes, checked against what remains.
    private mutating func length(_ count: Int, at offset: Int) throws(Failure) -> Int {
        let value = try littleEndian(count)
        guard value <= UInt64(bytes.count - position) else {
            throw Failure(message: "the value at byte \(offset) declares \(value) bytes but only \(bytes.count - position) remain (truncated or corrupt)")
        }
        return Int(value)
    }

    /// A little-endian two's complement integer of `count` bytes (LONG1/LONG4), which must fit 64 bits.
    private mutating func long(_ count: Int, at offset: Int) throws(Failure) -> Int64 {
        guard count <= 8 else { throw Failure(message: "the integer at byte \(offset) has \(count) bytes; a tensor's sizes fit 8") }
        let raw = try take(count)
        guard count > 0 else { return 0 }
        var value = raw.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if count < 8, raw.last! & 0x80 != 0 { value |= ~UInt64(0) << UInt64(8 * count) }  // sign-extend; raw is not empty
        return Int64(bitPattern: value)
    }

    private mutating func text(_ count: Int, at offset: Int) throws(Failure) -> String {
        let raw = try take(count)
        guard let string = String(validating: raw, as: UTF8.self) else { throw Failure(message: "the string at byte \(offset) is not UTF-8 (corrupt pickle)") }
        return string
    }

    /// A newline-terminated ASCII name (GLOBAL's module and attribute).
    private mutating func line(at offset: Int) throws(Failure) -> String {
        var name: [UInt8] = []
        while true {
            let next = try byte()
            if next == 0x0A { break }
            guard name.count < Self.maximumGlobalName, next >= 0x20, next < 0x7F else {
                throw Failure(message: "the GLOBAL at byte \(offset) does not name a module and attribute (corrupt pickle)")
            }
            name.append(next)
        }
        return String(decoding: name, as: UTF8.self)
    }

    // MARK: Stack, memo, objects

    private func need(_ count: Int, at offset: Int, for opcode: String) throws(Failure) {
        guard stack.count - (marks.last ?? 0) >= count else {
            throw Failure(message: "\(opcode) at byte \(offset) needs \(count) values on the stack (corrupt pickle)")
        }
    }

    private mutating func push(_ object: Object) throws(Failure) {
        guard objects.count < Self.maximumObjects else { throw Failure(message: "builds more than \(Self.maximumObjects) objects; not a state_dict") }
        objects.append(object)
        stack.append(.object(objects.count - 1))
    }

    private mutating func popMark(at offset: Int) throws(Failure) -> [Value] {
        guard let mark = marks.popLast() else { throw Failure(message: "opcode at byte \(offset) needs a MARK (corrupt pickle)") }
        let items = Array(stack[mark...])
        stack.removeLast(stack.count - mark)
        return items
    }

    private mutating func put(_ index: UInt32, at offset: Int) throws(Failure) {
        guard let top = stack.last else { throw Failure(message: "memo PUT at byte \(offset) with an empty stack (corrupt pickle)") }
        memo[index] = top
    }

    private mutating func get(_ index: UInt32, at offset: Int) throws(Failure) {
        guard let value = memo[index] else { throw Failure(message: "memo GET at byte \(offset) of entry \(index), which was never stored (corrupt pickle)") }
        stack.append(value)
    }

    private mutating func pushGlobal(module: String, name: String) throws(Failure) {
        guard let global = Global(module: module, name: name) else {
            throw Failure(message: "refers to the global '\(module).\(name)', which cnnspec refuses: it loads only tensors and dicts, "
                + "as torch.load(weights_only=True) does, and never runs code from a file (allowed globals: \(Global.allowedNames)); "
                + "save the model's state_dict(), not the model or other objects")
        }
        try push(.global(global))
    }

    /// The container object under `offset`'s opcode (the value below the popped items), which must be a `kind`.
    private func container(at offset: Int, opcode: String) throws(Failure) -> Int {
        guard let top = stack.last, case .object(let index) = top else {
            throw Failure(message: "\(opcode) at byte \(offset) without a container below its items (corrupt pickle)")
        }
        return index
    }

    private mutating func insert(_ pairs: [(Value, Value)], at offset: Int) throws(Failure) {
        let index = try container(at: offset, opcode: "SETITEM(S)")
        guard case .dict(var items) = objects[index] else {
            throw Failure(message: "SETITEM(S) at byte \(offset) on a \(describe(.object(index))), not a dict (corrupt pickle)")
        }
        objects[index] = .tuple([])  // drop the arena's reference so `items` is mutated in place
        items.append(contentsOf: pairs.map { (key: $0.0, value: $0.1) })  // a repeated key: the last value wins when read
        objects[index] = .dict(items)
    }

    private mutating func append(_ values: [Value], at offset: Int) throws(Failure) {
        let index = try container(at: offset, opcode: "APPEND(S)")
        guard case .list(var items) = objects[index] else {
            throw Failure(message: "APPEND(S) at byte \(offset) on a \(describe(.object(index))), not a list (corrupt pickle)")
        }
        objects[index] = .tuple([])
        items.append(contentsOf: values)
        objects[index] = .list(items)
    }

    // MARK: Calls

    private func tupleItems(_ value: Value) -> [Value]? {
        guard case .object(let index) = value, case .tuple(let items) = objects[index] else { return nil }
        return items
    }

    private func integer(_ value: Value) -> Int? {
        guard case .int(let number) = value, number >= 0, number <= Int64(Int.max) else { return nil }
        return Int(number)
    }

    /// `('storage', torch.XStorage, key, location, numel)`: torch's record of a storage in the archive.
    private func storageRecord(_ value: Value, at offset: Int) throws(Failure) -> Storage {
        guard let items = tupleItems(value), items.count == 5, case .string("storage") = items[0],
              case .object(let typeIndex) = items[1], case .global(.storageType(let dtype)) = objects[typeIndex],
              case .string(let key) = items[2], case .string = items[3], let elements = integer(items[4]) else {
            throw Failure(message: "persistent id at byte \(offset) is not a storage record ('storage', torch.XStorage, key, location, numel)")
        }
        return Storage(dtype: dtype, key: key, elements: elements)
    }

    /// REDUCE: calls one of the allowed globals, which only build records.
    private func call(_ callable: Value, _ arguments: Value, at offset: Int) throws(Failure) -> Object {
        guard case .object(let index) = callable, case .global(let global) = objects[index], let args = tupleItems(arguments) else {
            throw Failure(message: "REDUCE at byte \(offset) calls a \(describe(callable)) with \(describe(arguments)); only the allowed globals can be called")
        }
        func isEmptyHooks(_ value: Value) -> Bool {
            guard case .object(let hooks) = value, case .dict(let items) = objects[hooks] else { return false }
            return items.isEmpty
        }
        switch global {
        case .orderedDict:
            guard args.isEmpty else { throw Failure(message: "REDUCE at byte \(offset): collections.OrderedDict is only created empty") }
            return .dict([])
        case .rebuildTensor:
            guard args.count == 6 || args.count == 7, case .object(let storageIndex) = args[0], case .storage(let storage) = objects[storageIndex],
                  let offsetElements = integer(args[1]), let shape = tupleItems(args[2])?.map(integer), let strides = tupleItems(args[3])?.map(integer),
                  shape.count == strides.count, !shape.contains(nil), !strides.contains(nil), case .bool = args[4] else {
                throw Failure(message: "REDUCE at byte \(offset): _rebuild_tensor_v2 needs (storage, offset, size, stride, requires_grad, hooks) "
                    + "with non-negative whole sizes, strides and offset")
            }
            guard isEmptyHooks(args[5]) else { throw Failure(message: "REDUCE at byte \(offset): a tensor with backward hooks (only an empty OrderedDict is accepted)") }
            return .tensor(TensorRecord(storage: storage, offset: offsetElements, shape: shape.map { $0! }, strides: strides.map { $0! }))  // checked above
        case .rebuildParameter, .rebuildParameterWithState:
            guard args.count == (global == .rebuildParameter ? 3 : 4), case .object(let dataIndex) = args[0], case .tensor(let tensor) = objects[dataIndex],
                  case .bool = args[1], isEmptyHooks(args[2]) else {
                throw Failure(message: "REDUCE at byte \(offset): _rebuild_parameter needs (tensor, requires_grad, empty hooks)")
            }
            return .tensor(tensor)
        case .storageType:
            throw Failure(message: "REDUCE at byte \(offset) calls a storage type; storages come only from persistent ids")
        }
    }
}
