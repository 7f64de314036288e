import CoCoFLCore
import Platform

/// The strategies that ship with the platform.
public enum BuiltinStrategies {
    /// A fresh registry holding every built-in strategy.
    public static func catalog() throws -> StrategyCatalog {
        try StrategyCatalog([FedAvg.entry, DeviceDropping.entry, CoCoFLStrategy.entry] + SubModelStrategy.entries)
    }
}
