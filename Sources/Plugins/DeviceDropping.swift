import Platform

/// Device dropping: FedAvg among the devices whose limits admit full training; the rest sit the round out (the
/// paper's evidence that constrained devices with sub-models can hurt more than they help).
public enum DeviceDropping {
    /// Registry entry.
    public static let entry = StrategyEntry(id: "device-dropping", summary: "only devices that can train the full model take part") { options, environment in
        try FedAvg(weighting: deviceWeighting(options), unitCount: environment.unitCount, dropsConstrainedDevices: true)
    }
}
