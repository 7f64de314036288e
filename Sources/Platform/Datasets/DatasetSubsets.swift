import CKernels

extension Dataset {
    /// The samples at `indices`, in that order, with their labels and writer ids; indices must lie in 0..<count.
    public func subset(indices: [Int]) -> Dataset {
        for index in indices {
            precondition(index >= 0 && index < count, "\(name): subset index \(index) is outside 0..<\(count)")
        }
        let sampleSize = self.sampleSize
        let selectedImages = indices.withUnsafeBufferPointer { indexBuffer in
            indexBuffer.withMemoryRebound(to: Int64.self) { indexPointer in
                [UInt8](unsafeUninitializedCapacity: indices.count * sampleSize) { buffer, initialized in
                    images.withUnsafeBufferPointer { source in
                        cocofl_gather_samples_u8(source.baseAddress, sampleSize, indexPointer.baseAddress,
                                                 indices.count, buffer.baseAddress)
                    }
                    initialized = indices.count * sampleSize
                }
            }
        }
        return Dataset(
            name: name, images: selectedImages, labels: indices.map { labels[$0] }, channels: channels,
            height: height, width: width, classCount: classCount,
            writerIDs: writerIDs.map { ids in indices.map { ids[$0] } },
            writerNames: writerNames, normalization: normalization)
    }

    /// The first `sampleCount` samples; throws if the dataset has fewer.
    public func subset(first sampleCount: Int) throws -> Dataset {
        try checkSubsetSize(sampleCount)
        return subset(indices: Array(0..<sampleCount))
    }

    /// `sampleCount` distinct samples drawn by `generator`, kept in their original order; throws if there are fewer.
    public func randomSubset(
        count sampleCount: Int, using generator: inout some RandomNumberGenerator
    ) throws -> Dataset {
        try checkSubsetSize(sampleCount)
        // A partial Fisher–Yates shuffle: the first sampleCount positions become a uniform sample without
        // replacement.
        var order = Array(0..<count)
        for position in 0..<sampleCount {
            let choice = position + Int(generator.next(upperBound: UInt64(count - position)))
            order.swapAt(position, choice)
        }
        return subset(indices: order[..<sampleCount].sorted())
    }

    private func checkSubsetSize(_ sampleCount: Int) throws {
        guard sampleCount >= 0 && sampleCount <= count else {
            throw DatasetError(.invalidSubset, path: nil,
                               message: "\(name): cannot take \(sampleCount) samples from a set of \(count); "
                                   + "choose a subset size between 0 and \(count)")
        }
    }
}
