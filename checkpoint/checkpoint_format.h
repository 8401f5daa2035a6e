// The on-disk format of a checkpoint (version 2), under a root directory (checkpoint.dir):
//
//   root/step_<N>/rank_<r>.safetensors   this rank's pieces: one 1-D tensor "<name>@<offset>" per piece, in
//                                        the piece's dtype (float32 or bfloat16), readable by any
//                                        safetensors tool (safetensors: the format model weights already
//                                        use, memory-mapped, no library beyond a JSON parser needed)
//   root/step_<N>/manifest.json          {"format": "hllm-checkpoint", "version": 2, "step": N,
//                                         "scalars": {part: {...}}, "info": {config, world size, topology},
//                                         "files": [{"name", "bytes", "crc32"}],
//                                         "tensors": {name: {"shape", "dtype", "chunks": [{"file", "key",
//                                                             "offset", "length"}]}}}
//
// Commit protocol: every rank writes and fsyncs its file in step_<N>.tmp/; after a barrier rank 0 writes
// the manifest (with every file's size and CRC-32), fsyncs it, renames the directory to step_<N> and fsyncs
// the root: the rename is the commit. A directory without a manifest, or named *.tmp, was never committed
// and is never loaded. There is no `latest` pointer file: resuming takes the newest committed step that
// verifies (checkpoint_reader.h), which a pointer written after the rename could only lag behind.
#pragma once

namespace hllm::checkpoint {

constexpr const char* kFormatName = "hllm-checkpoint";
// Version 2 stores each part's scalars under its name (checkpoint/stateful.h); version 1 stored them in
// one flat object, and is still read.
constexpr int kFormatVersion = 2;
constexpr int kOldestReadableVersion = 1;
constexpr const char* kManifest = "manifest.json";

}  // namespace hllm::checkpoint
