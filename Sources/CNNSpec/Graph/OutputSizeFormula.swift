/// The output size of a convolution or pooling window along one axis, as PyTorch computes it:
/// O = ⌊(W + P_before + P_after − D·(K − 1) − 1) / S⌋ + 1, which is ⌊(W − K + 2P)/S⌋ + 1 without dilation.
public enum OutputSizeFormula {
    /// One axis of a sliding window.
    public struct Axis: Sendable, Equatable {
        public var kernel: Int
        public var stride: Int
        public var paddingBefore: Int
        public var paddingAfter: Int
        public var dilation: Int
        /// Pooling's `ceil_mode`: round the division up, but the last window must start inside the
        /// input or the leading padding (PyTorch's rule).
        public var ceilMode: Bool

        public init(kernel: Int, stride: Int, padding: Int, dilation: Int = 1, ceilMode: Bool = false) {
            self.init(kernel: kernel, stride: stride, paddingBefore: padding, paddingAfter: padding, dilation: dilation,
                      ceilMode: ceilMode)
        }

        public init(kernel: Int, stride: Int, paddingBefore: Int, paddingAfter: Int, dilation: Int = 1, ceilMode: Bool = false) {
            self.kernel = kernel; self.stride = stride; self.paddingBefore = paddingBefore; self.paddingAfter = paddingAfter
            self.dilation = dilation; self.ceilMode = ceilMode
        }

        /// The extent the dilated kernel covers: D·(K − 1) + 1.
        public var effectiveKernel: Int { dilation * (kernel - 1) + 1 }

        /// The output size, zero or negative when the window does not fit the padded input.
        public func outputSize(input: Int) -> Int {
            let span = input + paddingBefore + paddingAfter - effectiveKernel
            guard ceilMode else { return floorDivide(span, stride) + 1 }
            var size = ceilDivide(span, stride) + 1
            // PyTorch drops a last window that would start in the trailing padding.
            if size >= 1, (size - 1) * stride >= input + paddingBefore { size -= 1 }
            return size
        }

        /// The arithmetic written out, `(4 − 5 + 0)/1 + 1 = 0`, as shown in error messages.
        public func explanation(input: Int) -> String {
            let result = outputSize(input: input)
            let padding = paddingBefore + paddingAfter
            let numerator = dilation == 1 ? "\(input) − \(kernel) + \(padding)"
                : "\(input) + \(padding) − \(dilation)·(\(kernel) − 1) − 1"
            let division = ceilMode ? "⌈(\(numerator))/\(stride)⌉" : "(\(numerator))/\(stride)"
            return "\(division) + 1 = \(result)"
        }
    }

    /// The output size, which is zero or negative when the window does not fit the padded input.
    public static func outputSize(input: Int, kernel: Int, padding: Int, stride: Int) -> Int {
        Axis(kernel: kernel, stride: stride, padding: padding).outputSize(input: input)
    }

    /// The arithmetic written out, `(4 − 5 + 0)/1 + 1 = 0`, as shown in error messages.
    public static func explanation(input: Int, kernel: Int, padding: Int, stride: Int) -> String {
        Axis(kernel: kernel, stride: stride, padding: padding).explanation(input: input)
    }

    /// Division rounding toward negative infinity (Swift's `/` rounds toward zero).
    static func floorDivide(_ a: Int, _ b: Int) -> Int {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    /// Division rounding toward positive infinity.
    static func ceilDivide(_ a: Int, _ b: Int) -> Int { -floorDivide(-a, b) }
}

/// Multiplication that reports overflow instead of trapping.
public enum CheckedArithmetic {
    /// The product, or nil when it does not fit in `limit`.
    public static func product(_ factors: Int..., limit: Int = Int.max) -> Int? {
        var result = 1
        for factor in factors {
            let (value, overflow) = result.multipliedReportingOverflow(by: factor)
            guard !overflow, value <= limit else { return nil }
            result = value
        }
        return result
    }

    /// The number of scalars in a tensor of `shape` (1 for `[]`), or nil when a dimension is negative or
    /// the product overflows — shapes from files can declare anything.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0, let product = product(count, dimension) else { return nil }
            count = product
        }
        return count
    }

    public static func sum(_ a: Int, _ b: Int) -> Int? {
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : value
    }
}
