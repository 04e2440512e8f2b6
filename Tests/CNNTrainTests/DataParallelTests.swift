import CNNKernels
import CNNLayers
import CNNSpec
import Foundation
import Synchronization
import Testing
@testable import CNNTrain

/// Data-parallel training without mpirun: the ranks are threads connected by `LocalTransport`, running the
/// same sharding, fixed-order ring all-reduce, bucketed reducer and trainer code that `mpirun -np N` runs over
/// `MPITransport` (scripts/test-mpi runs that for real).
@Suite(.serialized) struct DataParallelTests {
    @Test func shardsAreDisjointAndCoverTheBatch() {
        for size in 1...5 {
            for count in 0...23 {
                var covered: [Int] = []
                for rank in 0..<size {
                    let shard = BatchShard.positions(batchCount: count, rank: rank, size: size)
                    #expect(shard.count == count / size || shard.count == count / size + 1)
                    covered += Array(shard)
                }
                #expect(covered == Array(0..<count), "\(count) samples over \(size) ranks")
                let batches = (0..<size).flatMap { Array(BatchShard.evaluationBatches(batchCount: count, rank: $0, size: size)) }
                #expect(batches.sorted() == Array(0..<count))
            }
        }
    }

    @Test func chunksCoverTheBuffer() {
        for parts in 1...6 {
            for count in 0...20 {
                let chunks = (0..<parts).map { RingAllReduce.chunk($0, of: count, parts: parts) }
                #expect(chunks.flatMap { Array($0) } == Array(0..<count))
            }
        }
    }

    /// Runs `body(rank, transport)` on `size` threads and returns their results in rank order.
    static func onRanks<T: Sendable>(_ size: Int, _ body: @escaping @Sendable (Int, LocalTransport) throws -> T) throws -> [T] {
        let transports = LocalTransport.group(size: size)
        let results = Mutex<[Int: Result<T, any Error>]>([:])
        let group = DispatchGroup()
        for rank in 0..<size {
            let transport = transports[rank]
            let thread = Thread {
                let result = Result { try body(rank, transport) }
                results.withLock { $0[rank] = result }
                group.leave()
            }
            thread.stackSize = 8 << 20
            group.enter()
            thread.start()
        }
        group.wait()
        return try results.withLock { all in try (0..<size).map { try all[$0]!.get() } }
    }

    static func rankValues(_ rank: Int, count: Int) -> [Float] {
        var random = SplitMix64(seed: 7, epoch: rank, sample: 0)
        return (0..<count).map { _ in Float(random.next() % 1_000_001) / 1000 - 500 }
    }

    /// Every rank ends with the same bits, rerunning gives the same bits, and the result is the sum.
    @Test func ringAllReduceIsTheSumWithAFixedOrder() throws {
        for size in [1, 2, 3, 4] {
            for count in [1, 2, 7, 1000] {
                let run = { () throws -> [[Float]] in
                    try Self.onRanks(size) { rank, transport in
                        var values = Self.rankValues(rank, count: count)
                        var scratch = [Float](repeating: 0, count: count / size + 1)
                        try values.withUnsafeMutableBufferPointer { buffer in
                            try scratch.withUnsafeMutableBufferPointer { scratch in
                                try RingAllReduce.sum(buffer.baseAddress!, count: count, scratch: scratch.baseAddress!,
                                                      transport: transport, channel: .gradients)
                            }
                        }
                        return values
                    }
                }
                let first = try run(), second = try run()
                for rank in 1..<size { #expect(first[rank] == first[0], "rank \(rank) of \(size) differs") }
                #expect(first == second, "a rerun differs at \(size) ranks")
                for index in 0..<count {
                    let exact = (0..<size).reduce(0.0) { $0 + Double(Self.rankValues($1, count: count)[index]) }
                    #expect(abs(Double(first[0][index]) - exact) <= 1e-3, "element \(index): \(first[0][index]) vs \(exact)")
                }
            }
        }
    }

    @Test func bucketsHoldWholeTensorsFromTheEnd() {
        let tensors = [(offset: 0, count: 10), (offset: 10, count: 5), (offset: 15, count: 30), (offset: 45, count: 3)]
        #expect(GradientReducer.layout(tensors: tensors, bucketElements: 8) == [15..<48, 0..<15])
        #expect(GradientReducer.layout(tensors: tensors, bucketElements: 1) == [45..<48, 15..<45, 10..<15, 0..<10])
        #expect(GradientReducer.layout(tensors: tensors, bucketElements: 1000) == [0..<48])
        #expect(GradientReducer.layout(tensors: [], bucketElements: 8).isEmpty)
    }

    /// Two ranks (threads) train the tiny model for one epoch against one process with the same global
    /// batch and seed: the ranks hold identical weights, equal to the single process's within float
    /// rounding, with the same test figures; a rerun is bit-identical. Small buckets make the reducer
    /// overlap several of them with backward.
    @Test func twoRanksTrainLikeOneProcess() throws {
        let single = try Self.train(ranks: 1)
        let parallel = try Self.train(ranks: 2)
        let again = try Self.train(ranks: 2)
        #expect(parallel[0].weights == parallel[1].weights, "the ranks' weights differ")
        #expect(parallel[0].weights == again[0].weights, "a rerun at 2 ranks is not bit-identical")
        let reference = single[0].weights
        var difference = 0.0, norm = 0.0
        for (a, b) in zip(parallel[0].weights, reference) {
            difference += Double(a - b) * Double(a - b)
            norm += Double(b) * Double(b)
        }
        let relative = (difference / norm).squareRoot()
        #expect(relative < 1e-5, "weights differ from one process by \(relative) (relative L2)")
        #expect(abs(parallel[0].accuracy - single[0].accuracy) <= 1.0 / 200, "test accuracy \(parallel[0].accuracy) vs \(single[0].accuracy)")
        #expect(parallel[0].accuracy == parallel[1].accuracy)
        #expect(abs(parallel[0].loss - single[0].loss) <= 1e-4 * single[0].loss)
    }

    /// One rank asked to stop (SIGTERM reaches ranks at different moments) stops every rank at the same step;
    /// rank 0's resume state then continues the run under one process, with a note.
    @Test func aStopOnOneRankStopsAllAndResumes() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        let results = try Self.onRanks(2) { rank, transport in
            let trainer = try Self.trainer(rank: rank, transport: transport, ranks: 2, folder: folder)
            defer { trainer.close() }
            var asked = 0
            let summary = try trainer.run(shouldStop: {
                asked += 1
                return rank == 1 && asked == 5
            })
            return summary.iterations
        }
        #expect(results == [5, 5])
        let resumed = try Self.trainer(rank: 0, transport: nil, ranks: 1, folder: folder.appendingPathComponent("rank0"), resume: true)
        let summary = try resumed.run()
        #expect(summary.iterations == 18)
        let log = try String(contentsOf: folder.appendingPathComponent("rank0/\(RunFolder.logFile)"), encoding: .utf8)
        #expect(log.contains("resumed at epoch 1, batch 5, iteration 5"))
        #expect(log.contains("the resume state was saved by 2 processes, this run has 1"))
    }

    static func trainer(rank: Int, transport: LocalTransport?, ranks: Int, folder: URL, resume: Bool = false) throws -> Trainer {
        let rankFolder = resume ? folder : folder.appendingPathComponent("rank\(rank)")
        let (config, graph, data) = try RecipeTrainingTests.setup(folder: rankFolder, epochs: 1) { config in
            config.train.threads = 1
            config.train.allreduceBucketMB = 100.0 / 1_048_576  // 100-byte buckets: one per tensor here
            config.train.evalBatchSize = 30
        }
        let world = transport.map {
            DistributedWorld(transport: $0, ranksPerNode: ranks, allowsCommunicationThread: true,
                             abort: { code in fatalError("rank failed with \(code)") })
        }
        return try Trainer(config: config, graph: graph, data: data, folder: try RunFolder(url: rankFolder),
                           reporter: TrainingTestSupport.quiet, resume: resume, world: world)
    }

    struct Outcome: Sendable {
        var weights: [Float]
        var accuracy: Double
        var loss: Double
    }

    /// One epoch of the tiny model (900 training images, batch 50: 18 steps) on `ranks` threads.
    static func train(ranks: Int) throws -> [Outcome] {
        let folder = TrainingTestSupport.temporaryFolder()
        return try onRanks(ranks) { rank, transport in
            let trainer = try Self.trainer(rank: rank, transport: ranks > 1 ? transport : nil, ranks: ranks, folder: folder)
            defer { trainer.close() }
            let summary = try trainer.run()
            let values = trainer.plan.parameters.values
            return Outcome(weights: Array(UnsafeBufferPointer(start: values.pointer, count: values.count)),
                           accuracy: summary.testAccuracy ?? -1, loss: summary.testLoss ?? -1)
        }
    }
}
