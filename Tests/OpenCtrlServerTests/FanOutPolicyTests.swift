import Testing
@testable import OpenCtrlServer

/// How many send threads a master uses, when, and how a flush is cut into claims.
struct FanOutPolicyTests {
    @Test func oneThreadPerAllowedCoreUpToEight() {
        #expect(FanOutPolicy.resolve(allowedCPUs: 1, override: nil).helpers == 0)
        #expect(FanOutPolicy.resolve(allowedCPUs: 2, override: nil).helpers == 1)
        #expect(FanOutPolicy.resolve(allowedCPUs: 8, override: nil).helpers == 7)
        #expect(FanOutPolicy.resolve(allowedCPUs: 64, override: nil).helpers == 7)
        #expect(FanOutPolicy.resolve(allowedCPUs: 0, override: nil).helpers == 0)
        #expect(FanOutPolicy.resolve(allowedCPUs: 4, override: nil).threshold == FanOutPolicy.automaticThreshold)
    }

    @Test func aSingleCoreNeverShares() {
        let policy = FanOutPolicy.resolve(allowedCPUs: 1, override: nil)
        #expect(!policy.sharesSends(directWatchers: 100_000))
    }

    @Test func automaticPolicySharesFromTheThreshold() {
        let policy = FanOutPolicy.resolve(allowedCPUs: 2, override: nil)
        #expect(!policy.sharesSends(directWatchers: FanOutPolicy.automaticThreshold - 1))
        #expect(policy.sharesSends(directWatchers: FanOutPolicy.automaticThreshold))
    }

    @Test func overrideForcesTheCountAndSharesEveryFlush() {
        let three = FanOutPolicy.resolve(allowedCPUs: 1, override: "3")
        #expect(three == FanOutPolicy(helpers: 3, threshold: 1))
        #expect(three.sharesSends(directWatchers: 1))
        #expect(!three.sharesSends(directWatchers: 0))
        let none = FanOutPolicy.resolve(allowedCPUs: 8, override: "0")
        #expect(none.helpers == 0)
        #expect(!none.sharesSends(directWatchers: 10_000))
    }

    @Test(arguments: ["", "-1", "65", "two", "1.5", " 2"])
    func malformedOverrideIsIgnored(_ raw: String) {
        #expect(FanOutPolicy.resolve(allowedCPUs: 2, override: raw) == FanOutPolicy.resolve(allowedCPUs: 2, override: nil))
    }

    @Test func chunksGiveEachThreadSeveralClaimsAndStayBounded() {
        #expect(FanOutPolicy.chunkSize(descriptors: 10_000, threads: 2) == 64)
        #expect(FanOutPolicy.chunkSize(descriptors: 256, threads: 2) == 32)
        #expect(FanOutPolicy.chunkSize(descriptors: 3, threads: 4) == 1)
        #expect(FanOutPolicy.chunkSize(descriptors: 0, threads: 0) == 1)
    }
}
