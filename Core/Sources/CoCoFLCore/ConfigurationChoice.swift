/// CoCoFL's per-round choice at a device: keep the windows whose time, memory and upload ratios fit the device's
/// limits (fractions of full training), drop any window contained in another feasible one, pick one at random.
public enum ConfigurationChoice {
    /// Windows of `profile` that fit all three limits.
    public static func feasible(_ profile: ModelProfile, time: Double, memory: Double, upload: Double) -> [WindowCost] {
        profile.windows.filter { $0.timeRatio <= time && $0.memoryRatio <= memory && $0.uploadRatio <= upload }
    }

    /// The feasible windows not contained in another feasible window.
    public static func maximal(_ windows: [WindowCost]) -> [WindowCost] {
        windows.filter { candidate in
            !windows.contains { other in other.window != candidate.window && other.window.contains(candidate.window) }
        }
    }

    /// A maximal feasible window chosen uniformly with `generator`, or nil when none fits (the device cannot take
    /// part this round — a normal answer).
    public static func choose<G: RandomNumberGenerator>(
        _ profile: ModelProfile, time: Double, memory: Double, upload: Double, using generator: inout G
    ) -> TrainedWindow? {
        let candidates = maximal(feasible(profile, time: time, memory: memory, upload: upload))
        guard !candidates.isEmpty else { return nil }
        return candidates[Int.random(in: 0..<candidates.count, using: &generator)].window
    }
}
