// The run configuration: plain structs with defaults, parsed once from JSON (config_loader.h) and passed
// as const&. Keys follow DeepSpeed where DeepSpeed has one, HLLM's names otherwise. Each struct lists
// its keys in visit(); configs/README.md is the reference (a test keeps the two in step).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/config_enums.h"
#include "common/config/config_schema.h"
#include "common/config/tower_spec.h"

namespace hllm::config {

struct ParallelConfig {
  int pp = 1;                // pipeline stages; dp = world_size / pp
  int intra_op_threads = 0;  // LibTorch threads per rank; 0 = cores / ranks on the node
  DeviceKind device = DeviceKind::kAuto;  // auto: a GPU per rank when every rank has one, else the CPU
  PipelineSchedule pipeline_schedule = PipelineSchedule::kOneFOneB;
  std::vector<int64_t> pipeline_cut;       // first block of stages 1..pp-1; empty = balanced by cost

  template <typename V>
  void visit(V& v) {
    v.field("pp", pp, "Pipeline-parallel stages. The data-parallel size is world_size / pp.", Limits::at_least(1));
    v.field("intra_op_threads", intra_op_threads,
            "LibTorch intra-op threads per rank; 0 = this node's cores divided by its ranks.", Limits::at_least(0));
    v.field("device", device, "Where ranks train: cuda (one GPU per rank), cpu, or auto (cuda when every rank has a GPU of its own).");
    v.field("pipeline_schedule", pipeline_schedule,
            "Pipeline schedule (pp > 1): 1f1b keeps at most pp - stage micro-batches of activations per stage, gpipe all of them.");
    v.field("pipeline_cut", pipeline_cut,
            "Pipeline stage cut by hand: the first block of stages 1 .. pp-1 (hllm_plan lists the blocks); empty = balanced by the blocks' estimated cost.");
  }
};

struct ZeroConfig {
  int stage = 0;  // 0 plain data parallel, 1 + optimizer state, 2 + gradients, 3 + parameters
  // Stage 3: parameters (elements) gathered ahead of the block that needs them; the gather of the next
  // block(s) runs while the current one computes. 0 = no prefetch.
  double stage3_prefetch_bucket_size = 5e7;
  // Stage 3: at most this many parameter elements gathered at once by prefetching (the block being
  // computed is always gathered, whatever its size).
  double stage3_max_live_parameters = 1e9;

  template <typename V>
  void visit(V& v) {
    v.field("stage", stage,
            "ZeRO stage: 0 plain data parallel, 1 shards optimizer state, 2 also gradients, 3 also parameters.",
            Limits::range(0, 3));
    v.field("stage3_prefetch_bucket_size", stage3_prefetch_bucket_size,
            "Stage 3: parameter elements whose gather is issued ahead of the block being computed; 0 = none.",
            Limits::at_least(0));
    v.field("stage3_max_live_parameters", stage3_max_live_parameters,
            "Stage 3: prefetching stops before more than this many parameter elements would be gathered at once.",
            Limits::at_least(0));
  }
};

struct ActivationCheckpointingConfig {
  RecomputePolicy policy = RecomputePolicy::kNone;
  int every = 2;                // every_kth_block: recompute blocks 0, k, 2k, ... of the decoder layers

  template <typename V>
  void visit(V& v) {
    v.field("policy", policy,
            "HLLM decoder layers whose activations are recomputed in the backward instead of kept: none, every_block, "
            "or every_kth_block (layers 0, k, 2k, ... of each tower).");
    v.field("every", every, "k of every_kth_block.", Limits::at_least(1));
  }
};

struct Bf16Config {
  bool enabled = false;

  template <typename V>
  void visit(V& v) {
    v.field("enabled", enabled, "Compute in bfloat16 with fp32 master weights.");
  }
};

struct OptimizerParams {
  double lr = 1e-4;
  std::vector<double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.01;

  template <typename V>
  void visit(V& v) {
    v.field("lr", lr, "Peak learning rate.", Limits::at_least(0));
    v.field("betas", betas, "Adam's (beta1, beta2), each in [0, 1).");
    v.field("eps", eps, "Adam's epsilon.", Limits::at_least(0));
    v.field("weight_decay", weight_decay,
            "Decoupled weight decay; not applied to norms, biases, [ITEM] and logit_scale.", Limits::at_least(0));
  }
};

struct OptimizerConfig {
  OptimizerType type = OptimizerType::kAdamW;
  OptimizerParams params;

  template <typename V>
  void visit(V& v) {
    v.field("type", type, "Optimizer.");
    v.section("params", params, "Optimizer parameters.");
  }
};

struct SchedulerParams {
  int64_t warmup_num_steps = 0;
  int64_t total_num_steps = 0;  // 0 = the run's optimizer steps
  double warmup_min_ratio = 0.0;
  double min_ratio = 0.0;
  double warmup_ratio = 0.0;  // warmup as a share of the schedule's steps (HLLM's scheduler_args.warmup)

  template <typename V>
  void visit(V& v) {
    v.field("warmup_num_steps", warmup_num_steps, "Steps of linear warmup.", Limits::at_least(0));
    v.field("warmup_ratio", warmup_ratio,
            "Linear warmup as a share of the schedule's steps (total_num_steps, or the run's), rounded to steps; "
            "instead of warmup_num_steps.",
            Limits::range(0, 1));
    v.field("total_num_steps", total_num_steps, "Steps of the whole schedule; 0 = the run's optimizer steps.",
            Limits::at_least(0));
    v.field("warmup_min_ratio", warmup_min_ratio, "Learning rate at step 0, as a fraction of the peak.",
            Limits::range(0, 1));
    v.field("min_ratio", min_ratio, "Learning rate at the end of the decay, as a fraction of the peak.",
            Limits::range(0, 1));
  }
};

struct SchedulerConfig {
  LrScheduleType type = LrScheduleType::kWarmupCosineLR;
  SchedulerParams params;

  template <typename V>
  void visit(V& v) {
    v.field("type", type,
            "Warmup, then constant (WarmupLR), linear decay (WarmupDecayLR) or cosine decay (WarmupCosineLR).");
    v.section("params", params, "Schedule parameters.");
  }
};

struct ModelConfig {
  ModelType type = ModelType::kHllm;
  TowerSpec item = "tiny";  // HLLM: a preset (debug, tiny, 1b, 7b), a Hugging Face directory or a shape
  TowerSpec user = "tiny";
  int hidden_size = 64;       // SASRec / HSTU
  int num_layers = 2;
  int num_heads = 2;

  template <typename V>
  void visit(V& v) {
    v.field("type", type, "The recommender.");
    v.field("item", item,
            "HLLM: the Item LLM, a preset (debug, tiny, 1b, 7b), a Hugging Face model directory, or a shape object.");
    v.field("user", user, "HLLM: the User LLM, a preset, a Hugging Face model directory, or a shape object.");
    v.field("hidden_size", hidden_size, "SASRec / HSTU: embedding and hidden size.", Limits::at_least(1));
    v.field("num_layers", num_layers, "SASRec / HSTU: layers.", Limits::at_least(1));
    v.field("num_heads", num_heads, "SASRec / HSTU: attention heads.", Limits::at_least(1));
  }
};

// The training guards (runtime/training_guard.h, README "Training health"). Defaults are set from healthy
// runs' measured ranges (docs/RESULTS.md "Training health on healthy runs") and are safe to leave on.
struct GuardConfig {
  int max_rollbacks = 3;
  double lr_factor = 1.0;
  double spike_factor = 5.0;   // 0 = off
  int spike_window = 50;
  double collapse_min_kept_share = 0.02;    // 0 = off
  double collapse_max_item_cosine = 0.999;  // 1 = off
  int collapse_steps = 20;

  template <typename V>
  void visit(V& v) {
    v.field("max_rollbacks", max_rollbacks,
            "Rollbacks to the last committed checkpoint this launch may make when a guard trips; the next trip "
            "stops the run with exit code 4. 0 = never roll back (a non-finite step or a spike is then skipped, "
            "a collapse stops the run).",
            Limits::at_least(0));
    v.field("lr_factor", lr_factor,
            "The learning rate is multiplied by this after each rollback (1 = unchanged, and the run then ends "
            "equal to a fresh run given the same data.skip_windows).",
            Limits::range(1e-6, 1));
    v.field("spike_factor", spike_factor,
            "A step's loss above this many times the median of the last spike_window steps trips the spike "
            "guard; 0 = off.",
            Limits::at_least(0));
    v.field("spike_window", spike_window,
            "Steps whose median loss the spike guard compares with; it watches once that many steps passed.",
            Limits::range(2, 100000));
    v.field("collapse_min_kept_share", collapse_min_kept_share,
            "A step whose negatives kept after the same-item filter are below this share of the pool looks "
            "collapsed; 0 = off.",
            Limits::range(0, 1));
    v.field("collapse_max_item_cosine", collapse_max_item_cosine,
            "A step whose items' mean pairwise cosine is above this looks collapsed; 1 = off.", Limits::range(0, 1));
    v.field("collapse_steps", collapse_steps,
            "Steps in a row that must look collapsed before the collapse guard trips.", Limits::range(1, 100000));
  }
};

struct TrainConfig {
  int epochs = 1;
  int64_t max_steps = 0;  // 0 = the epochs decide
  int log_interval = 10;
  int eval_interval = 0;  // 0 = evaluate at the end only
  int eval_batch_size = 32;
  CatalogueHolding eval_catalogue = CatalogueHolding::kSharded;
  int max_nan_steps = 5;
  GuardConfig guard;

  template <typename V>
  void visit(V& v) {
    v.field("epochs", epochs, "Passes over the training windows.", Limits::at_least(1));
    v.field("max_steps", max_steps, "Stop after this many optimizer steps; 0 = after the epochs.", Limits::at_least(0));
    v.field("log_interval", log_interval, "Optimizer steps between progress lines and metrics.jsonl records.",
            Limits::at_least(1));
    v.field("eval_interval", eval_interval, "Optimizer steps between validations; 0 = at the end only.",
            Limits::at_least(0));
    v.field("eval_batch_size", eval_batch_size, "Users per evaluation batch on each rank.", Limits::at_least(1));
    v.field("eval_catalogue", eval_catalogue,
            "How evaluation and hllm_recommend hold the item table: sharded keeps on each model replica only the "
            "rows it embedded (the table's memory divided by the replicas) and exchanges the users' states "
            "instead; replicated gathers the whole table on every rank. The same lists, scores and metrics "
            "either way.");
    v.field("max_nan_steps", max_nan_steps,
            "Where no rollback is possible (no committed checkpoint, or train.guard.max_rollbacks 0), non-finite "
            "steps are skipped; this many in a row stop the run with exit code 4.",
            Limits::at_least(1));
    v.section("guard", guard, "Training guards: a non-finite step, a loss spike or a collapse rolls the run back.");
  }
};

// max_text_len, item_prompt and text_keys are fixed when hllm_prepare tokenizes the items: here they only
// state what a config expects, checked against the dataset's meta.json (data/dataset_keys.h); left at
// their defaults they mean "the dataset's".
struct DataConfig {
  std::string path;             // dataset directory written by hllm_prepare
  int max_item_list_len = 10;   // user history window
  int max_text_len = 0;         // tokens per item text; 0 = the dataset's
  int num_negatives = 256;      // sampled negatives per rank
  std::string item_prompt;      // "" = the dataset's
  std::vector<std::string> text_keys;  // empty = the dataset's
  std::vector<std::string> skip_windows;  // "EPOCH:WINDOW" (data/skipped_windows.h)
  BalanceMode balance = BalanceMode::kFlops;

  template <typename V>
  void visit(V& v) {
    v.field("path", path, "Dataset directory written by hllm_prepare.");
    v.field("max_item_list_len", max_item_list_len, "Items of a user's history the User LLM reads.",
            Limits::at_least(1));
    v.field("max_text_len", max_text_len,
            "Tokens of item text the Item LLM reads (hllm_prepare --max_text_len); 0 = the dataset's, another value "
            "must equal it.",
            Limits::at_least(0));
    v.field("num_negatives", num_negatives, "Negative items sampled per rank per micro-batch.", Limits::at_least(0));
    v.field("item_prompt", item_prompt,
            "Text placed before every item's text (hllm_prepare --item_prompt); empty = the dataset's, another "
            "value must equal it.");
    v.field("text_keys", text_keys,
            "Item text fields, in order (hllm_prepare --text_keys); empty = the dataset's, another list must equal it.");
    v.field("balance", balance,
            "How a step's global batch is spread over the data-parallel ranks: flops partitions it so that every "
            "rank (and every micro-batch of a rank) gets a near-equal share of the estimated training FLOPs, none "
            "deals each rank the windows of its own range as they come. The same windows per step either way.");
    v.field("skip_windows", skip_windows,
            "Training windows left out, as \"EPOCH:WINDOW\" (a window's global index, from 0): each becomes a masked "
            "row in its place, so every other sample keeps its step. A guard's rollback adds the windows of the step "
            "that tripped (README \"Training health\"); an incident names them in this form.");
  }
};

struct RunConfig {
  std::string dir;  // "" = runs/<name>

  template <typename V>
  void visit(V& v) {
    v.field("dir", dir, "Directory for everything the run writes; empty = runs/<name>.");
  }
};

struct CommConfig {
  double timeout_s = 1800;  // 0 = wait forever
  int flight_recorder_entries = 2000;  // 0 = off
  double flight_recorder_interval_s = 10;

  template <typename V>
  void visit(V& v) {
    v.field("timeout_s", timeout_s,
            "Seconds an MPI collective or NCCL operation may make no progress before the job is aborted, naming the "
            "operation and rank. 0 = wait forever.",
            Limits::at_least(0));
    v.field("flight_recorder_entries", flight_recorder_entries,
            "Communication operations each rank keeps in <run directory>/flight_recorder/rank_N.json (group, "
            "operation, sequence number, bytes, start, completion), so that a timeout names the rank that held the "
            "job up and `hllm_flight` shows it afterwards. 0 = no files (and no such report). At most 100000 (the file, "
            "about 150 bytes a record, is rewritten every interval).",
            Limits::range(0, 100000));
    v.field("flight_recorder_interval_s", flight_recorder_interval_s,
            "Seconds between rewrites of a rank's flight recorder file (also its heartbeat: a rank whose file is "
            "older than three intervals is named silent); at most comm.timeout_s / 4 is used.",
            Limits::range(0.1, 3600));
  }
};

struct CheckpointConfig {
  std::string dir;             // "" = <run directory>/checkpoints
  int interval_steps = 0;      // 0 = not by steps
  double interval_minutes = 0;  // 0 = not by time
  int keep_last = 2;
  // auto: in the background on GPUs (the snapshot takes host memory, not the device's); blocking on the
  // CPU, where a snapshot would hold a second copy of the model states beside the training's.
  AsyncSave async_save = AsyncSave::kAuto;

  template <typename V>
  void visit(V& v) {
    v.field("dir", dir, "Where checkpoints are written; empty = <run directory>/checkpoints.");
    v.field("interval_steps", interval_steps, "Save every this many optimizer steps; 0 = not by steps.",
            Limits::at_least(0));
    v.field("interval_minutes", interval_minutes, "Save when this many minutes passed since the last save; 0 = not by time.",
            Limits::at_least(0));
    v.field("keep_last", keep_last, "Committed checkpoints kept (older ones are deleted); 0 = keep all.",
            Limits::at_least(0));
    v.field("async_save", async_save,
            "Write checkpoints from a host snapshot while training goes on (on), or with training waiting and no "
            "copy (off); auto = on for GPU runs, off on the CPU (the snapshot would double the model states there).");
  }
};

// Fault injection for tests of the guards: the fault goes through the code path of a real one.
struct DebugConfig {
  InjectedFault inject = InjectedFault::kNone;
  int64_t inject_step = 0;

  template <typename V>
  void visit(V& v) {
    v.field("inject", inject,
            "A fault at step inject_step, once (a rollback past it does not bring it back): nan (the step's loss "
            "and gradients NaN), spike (the step's loss and gradients x1000) or collapse (every item of the "
            "batches the same, from that step until a rollback). none = off.");
    v.field("inject_step", inject_step, "The step (from 0) of debug.inject; it must be below the run's steps.",
            Limits::at_least(0));
  }
};

struct Config {
  std::string name = "run";
  int64_t seed = 42;
  int train_batch_size = 0;                // 0 = derived
  int train_micro_batch_size_per_gpu = 0;  // 0 = derived
  int gradient_accumulation_steps = 0;     // 0 = derived
  double gradient_clipping = 1.0;          // global L2 norm; 0 = off
  Bf16Config bf16;
  ZeroConfig zero_optimization;
  ActivationCheckpointingConfig activation_checkpointing;
  OptimizerConfig optimizer;
  SchedulerConfig scheduler;
  ParallelConfig parallel;
  ModelConfig model;
  TrainConfig train;
  DataConfig data;
  RunConfig run;
  CheckpointConfig checkpoint;
  CommConfig comm;
  DebugConfig debug;

  template <typename V>
  void visit(V& v) {
    v.field("name", name, "Run name; the default run directory is runs/<name>.");
    v.field("seed", seed, "Seed of every random choice (initialisation, sampling, shuffling).");
    v.field("train_batch_size", train_batch_size,
            "Samples per optimizer step over all data-parallel ranks (= micro batch x accumulation x dp); "
            "0 = derived from the other two.",
            Limits::at_least(0));
    v.field("train_micro_batch_size_per_gpu", train_micro_batch_size_per_gpu,
            "Samples per rank per forward/backward; 0 = derived.", Limits::at_least(0));
    v.field("gradient_accumulation_steps", gradient_accumulation_steps,
            "Micro-batches accumulated per optimizer step; 0 = derived.", Limits::at_least(0));
    v.field("gradient_clipping", gradient_clipping, "Clip the global gradient L2 norm to this value; 0 = off.",
            Limits::at_least(0));
    v.section("bf16", bf16, "bfloat16 mixed precision.");
    v.section("zero_optimization", zero_optimization, "ZeRO sharding.");
    v.section("activation_checkpointing", activation_checkpointing, "Recomputing activations in the backward.");
    v.section("optimizer", optimizer, "Optimizer (DeepSpeed's layout).");
    v.section("scheduler", scheduler, "Learning-rate schedule.");
    v.section("parallel", parallel, "Process grid: world = pp x dp.");
    v.section("model", model, "The recommender and its size.");
    v.section("train", train, "Training loop.");
    v.section("data", data, "Dataset and sample shapes.");
    v.section("run", run, "Run directory.");
    v.section("checkpoint", checkpoint, "Checkpoints: when to save, where, how many to keep.");
    v.section("comm", comm, "Communication.");
    v.section("debug", debug, "Fault injection for tests.");
  }
};

}  // namespace hllm::config
