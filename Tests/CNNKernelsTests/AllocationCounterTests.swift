import CAllocationCounter
import Testing

@Test func allocationCounterSeesHeapAllocations() {
    final class Box { var value = 0 }
    var boxes: [Box] = []
    boxes.reserveCapacity(64)
    let before = cnnspec_allocation_count()
    for _ in 0..<50 { boxes.append(Box()) }
    let after = cnnspec_allocation_count()
    #expect(after - before >= 50)
}
