/// The output size of a convolution or pooling window along one axis, PyTorch floor mode:
/// O = ⌊(W − K + 2P) / S⌋ + 1.
public enum OutputSizeFormula {
    /// The output size, which is zero or negative when the window does not fit the padded input.
    public static func outputSize(input: Int, kernel: Int, padding: Int, stride: Int) -> Int {
        floorDivide(input - kernel + 2 * padding, stride) + 1
    }

    /// The arithmetic written out, `(4 − 5 + 0)/1 + 1 = 0`, as shown in error messages.
    public static func explanation(input: Int, kernel: Int, padding: Int, stride: Int) -> String {
        let result = outputSize(input: input, kernel: kernel, padding: padding, stride: stride)
        return "(\(input) − \(kernel) + \(2 * padding))/\(stride) + 1 = \(result)"
    }

    /// Division rounding toward negative infinity (Swift's `/` rounds toward zero).
    static func floorDivide(_ a: Int, _ b: Int) -> Int {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }
}

/// Multiplication that reports overflow instead of trapping.
enum CheckedArithmetic {
    /// The product, or nil when it does not fit in `limit`.
    static func product(_ factors: Int..., limit: Int = Int.max) -> Int? {
        var result = 1
        for factor in factors {
            let (value, overflow) = result.multipliedReportingOverflow(by: factor)
            guard !overflow, value <= limit else { return nil }
            result = value
        }
        return result
    }

    static func sum(_ a: Int, _ b: Int) -> Int? {
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : value
    }
}
