import CNNSpec
import Foundation

/// PyTorch's `OneCycleLR` over a run of `totalSteps` optimizer steps: the rate rises from
/// max_lr / div_factor to max_lr over the first `pct_start` of the run, then anneals to
/// initial / final_div_factor (three_phase: back to the initial rate first, then to the minimum);
/// with `cycle_momentum` the momentum (SGD/RMSprop) or beta1 (Adam) moves the opposite way between
/// `max_momentum` and `base_momentum`. A pure function of the step, so resuming needs no state.
public struct OneCycle: Sendable, Equatable {
    public let totalSteps: Int
    public let initialRate: Double
    public let maxRate: Double
    public let minRate: Double
    public let baseMomentum: Double
    public let maxMomentum: Double
    public let cyclesMomentum: Bool
    public let strategy: AnnealStrategy

    /// One phase: it ends at `endStep` (PyTorch's float `end_step`) and interpolates between the rates
    /// and momenta named.
    struct Phase: Sendable, Equatable {
        var endStep: Double
        var startRate: Double, endRate: Double
        var startMomentum: Double, endMomentum: Double
    }

    let phases: [Phase]

    /// `maxRate`: the schedule's `max_lr`, else the optimizer's lr. Throws when a phase PyTorch would
    /// divide by has no length at this run length (PyTorch raises ZeroDivisionError there).
    public init(config: ScheduleConfig, maxRate: Double, totalSteps: Int) throws(ScheduleSetupError) {
        guard totalSteps > 0 else {
            throw ScheduleSetupError("train.schedule: one_cycle needs a run of at least 1 iteration")
        }
        guard (0...1).contains(config.pctStart) else {
            throw ScheduleSetupError("train.schedule.pct_start must lie in [0, 1], not \(config.pctStart)")
        }
        self.totalSteps = totalSteps
        self.maxRate = maxRate
        initialRate = maxRate / config.divFactor
        minRate = initialRate / config.finalDivFactor
        baseMomentum = config.baseMomentum
        maxMomentum = config.maxMomentum
        cyclesMomentum = config.cycleMomentum
        strategy = config.annealStrategy
        let total = Double(totalSteps), pct = config.pctStart
        if config.threePhase {
            phases = [Phase(endStep: pct * total - 1, startRate: initialRate, endRate: maxRate,
                            startMomentum: maxMomentum, endMomentum: baseMomentum),
                      Phase(endStep: 2 * pct * total - 2, startRate: maxRate, endRate: initialRate,
                            startMomentum: baseMomentum, endMomentum: maxMomentum),
                      Phase(endStep: total - 1, startRate: initialRate, endRate: minRate,
                            startMomentum: maxMomentum, endMomentum: maxMomentum)]
        } else {
            phases = [Phase(endStep: pct * total - 1, startRate: initialRate, endRate: maxRate,
                            startMomentum: maxMomentum, endMomentum: baseMomentum),
                      Phase(endStep: total - 1, startRate: maxRate, endRate: minRate,
                            startMomentum: baseMomentum, endMomentum: maxMomentum)]
        }
        for step in 0..<totalSteps where locate(step).length == 0 {
            throw ScheduleSetupError("train.schedule: one_cycle with pct_start \(pct)\(config.threePhase ? " and three_phase" : "") "
                + "over \(totalSteps) iterations has a phase of length 0 at step \(step) (PyTorch raises ZeroDivisionError)",
                hint: "train longer or choose another pct_start")
        }
    }

    /// The phase PyTorch picks for `step`, where it starts and its length.
    private func locate(_ step: Int) -> (phase: Phase, start: Double, length: Double) {
        var start = 0.0
        for (index, phase) in phases.enumerated() {
            if Double(step) <= phase.endStep || index == phases.count - 1 {
                return (phase, start, phase.endStep - start)
            }
            start = phase.endStep
        }
        preconditionFailure("unreachable: the last phase always matches")
    }

    private func anneal(_ start: Double, _ end: Double, _ pct: Double) -> Double {
        switch strategy {
        case .cosine: return end + (start - end) / 2 * (cos(Double.pi * pct) + 1)
        case .linear: return (end - start) * pct + start
        }
    }

    /// The rate for 0-based optimizer step `step` (PyTorch's `get_last_lr()` after `step` scheduler steps).
    public func learningRate(step: Int) -> Double {
        let (phase, start, length) = locate(min(step, totalSteps))
        return anneal(phase.startRate, phase.endRate, (Double(step) - start) / length)
    }

    /// The momentum / beta1 for step `step`, or nil when momentum is not cycled.
    public func momentum(step: Int) -> Double? {
        guard cyclesMomentum else { return nil }
        let (phase, start, length) = locate(min(step, totalSteps))
        return anneal(phase.startMomentum, phase.endMomentum, (Double(step) - start) / length)
    }
}

/// A schedule that cannot run with this config (found when training starts).
public struct ScheduleSetupError: UserFacingError, Sendable {
    public var message: String
    public var hint: String?
    public init(_ message: String, hint: String? = nil) { self.message = message; self.hint = hint }
    public var diagnostics: [Diagnostic] { [Diagnostic(message, at: nil, hint: hint)] }
}
