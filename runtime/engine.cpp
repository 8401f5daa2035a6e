#include "runtime/engine.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <glog/logging.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "checkpoint/async_checkpointer.h"
#include "models/model_plan.h"
#include "checkpoint/checkpoint_reader.h"
#include "common/config/config_loader.h"
#include "common/error.h"
#include "data/item_token_reader.h"
#include "data/sharded_loader.h"
#include "data/user_reader.h"
#include "parallel/pipeline/pipeline_forward.h"
#include "runtime/lr_schedule.h"
#include "runtime/memory_probe.h"
#include "runtime/progress.h"
#include "runtime/ranking_metrics.h"
#include "runtime/run_state.h"
#include "runtime/training_step.h"

namespace hllm::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// Model selection, as in the paper: the best validation NDCG@200.
constexpr const char* kSelectionMetric = "ndcg@200";

// Host copies of state pieces (the best model: off the device, which holds only what training needs).
std::vector<checkpoint::StatePiece> host_copy(std::vector<checkpoint::StatePiece> pieces) {
  for (auto& piece : pieces) piece.values = piece.values.to(at::kCPU, /*non_blocking=*/false, /*copy=*/true);
  return pieces;
}

double all_reduce_sum(parallel::Communicator& comm, double value) {
  at::Tensor t = at::full({1}, value, at::kDouble);
  comm.all_reduce(t, parallel::ReduceOp::kSum)->wait();
  return t.item<double>();
}

}  // namespace

Engine::Engine(const config::Config& config, const config::BatchSizes& batch, const parallel::Topology& topology,
               const data::Dataset& dataset, std::string run_dir, DeviceGroups device_groups, EngineUse use)
    : config_(config),
      batch_(batch),
      topology_(topology),
      dataset_(dataset),
      run_dir_(std::move(run_dir)),
      device_(topology.placement().device),
      tensor_world_(device_groups.world ? *device_groups.world : topology.world()),
      tensor_dp_(device_groups.dp ? *device_groups.dp : topology.dp_group()),
      tensor_pp_(device_groups.pp ? *device_groups.pp : topology.pp_group()) {
  reset_peak_resident();
  baseline_rss_ = resident_bytes();
  std::vector<int64_t> prompt;
  for (const auto& id : dataset.meta().at("prompt_tokens")) prompt.push_back(id.get<int64_t>());
  const int64_t vocab = dataset.meta().at("tokenizer").at("vocab_size").get<int64_t>();
  // Built without values (HLLM): a rank fills only what it keeps, below, so no rank ever holds the whole
  // model. With bf16 the LLMs compute in bfloat16 (train() keeps float32 masters); logit_scale stays float32
  // (the loss reads it in float32, and a bf16 exponent would round the temperature).
  std::unique_ptr<models::ParameterSource> source;
  model_ = models::make_recommender_without_values(config, dataset.num_items(), vocab, prompt, device_,
                                                   config.bf16.enabled ? at::kBFloat16 : at::kFloat, &source);
  // The model as blocks: their costs for the configured shapes (the plan, the pipeline's cut) and HLLM's
  // landmarks (where the Item LLM ends and the User LLM runs), which evaluation runs as ranges.
  models::Blocks blocks = model_->blocks({});
  const models::ModelShapes shapes = planned_shapes(static_cast<int64_t>(prompt.size()));
  const models::ModelShapes evaluation_shapes = models::hllm_evaluation_shapes(config, static_cast<int64_t>(prompt.size()), dataset.num_items());
  std::vector<models::BlockCost> costs, evaluation_costs;
  for (size_t b = 0; b < blocks.size(); ++b) {
    costs.push_back(blocks[b]->cost(shapes));
    evaluation_costs.push_back(blocks[b]->cost(evaluation_shapes));
    const std::string& name = blocks[b]->name();
    if (name == "item_output") item_end_ = b + 1;
    if (name == "user_input") user_begin_ = b;
    if (name == "user_output") user_end_ = b + 1;
  }
  if (topology.pp() > 1) {
    set_up_pipeline(blocks, costs);
  } else {
    planned_ = parallel::plan_stage_memory(costs, 0, costs.size(), memory_plan_options());
  }
  keep_stage_blocks(std::move(blocks));
  plan_phases(costs, std::move(evaluation_costs));
  // This rank's parameters get their values: for training, as TrainingStep holds them (ZeRO-3: only this
  // rank's shards are ever filled; stages 0-2: this stage's parameters whole); for evaluation alone, whole.
  // The source (its files' mappings) goes once they are filled.
  models::ParameterFill fill;
  if (source) {
    fill = [&source](const std::string& name, int64_t offset, const at::Tensor& out) {
      return source->fill(name, offset, out);
    };
  }
  if (use == EngineUse::kTrain) {
    training_ = std::make_unique<TrainingStep>(config_, *model_, tensor_dp_, pipeline_stage(), fill);
  } else {
    for (const auto& [name, t] : owned_) models::materialize(name, t, fill);
  }
  end_phase("start-up");
  if (!run_dir_.empty() && topology.rank() == 0) {
    std::filesystem::create_directories(run_dir_);
    std::ofstream(run_dir_ + "/config.json") << config::config_to_json(config).dump(2) << "\n";
  }
}

bool Engine::saves_in_background() const {
  const std::string& mode = config_.checkpoint.async_save;
  return mode == "on" || (mode == "auto" && !device_.is_cpu());
}

std::string Engine::checkpoint_root() const {
  if (!config_.checkpoint.dir.empty()) return config_.checkpoint.dir;
  return (run_dir_.empty() ? std::string("runs/") + config_.name : run_dir_) + "/checkpoints";
}

void Engine::log_record(const std::string& json_line) {
  if (run_dir_.empty() || topology_.rank() != 0) return;
  std::ofstream(run_dir_ + "/metrics.jsonl", std::ios::app) << json_line << "\n";
}

at::Tensor Engine::catalog_embeddings() {
  c10::NoGradGuard no_grad;
  const int64_t items = dataset_.num_items();
  if (!model_->reads_item_tokens()) {
    gather_id_model(true);
    const at::Tensor table = model_->item_embeddings(1, items + 1, {}, {});
    at::Tensor catalog = at::cat({at::zeros({1, table.size(1)}, table.options()), table}, 0);
    gather_id_model(false);
    return catalog;
  }
  // The Item LLM: the catalogue is cut into fixed chunks of items (the same for any world size, so every
  // item's embedding is computed the same way), each model replica (a rank; under pp, a pipeline) embeds a
  // contiguous run of chunks through the blocks (under ZeRO-3 each block gathered in turn), then they
  // gather them. Under pp the chunks pass through the stages that hold the Item LLM, and the stage that
  // finishes it shares the catalogue with the other stages.
  const bool pipelined = topology_.pp() > 1;
  parallel::Communicator& replicas = pipelined ? tensor_dp_ : tensor_world_;
  const int stage = topology_.stage_id();
  const int embedder = stage_of_block(item_end_ - 1);
  const int64_t chunk = models::kCatalogueChunkItems;
  const int64_t chunks = (items + chunk - 1) / chunk;
  const int R = replicas.size();
  auto first_item_of = [&](int r) { return 1 + std::min(items, chunk * (chunks * r / R)); };
  const int64_t first = first_item_of(replicas.rank());
  const int64_t end = first_item_of(replicas.rank() + 1);
  // Every replica runs as many chunks as the busiest one: ZeRO-3's gathers inside the blocks are collective
  // over the data-parallel group. A replica whose own chunks are done runs a one-item stand-in and drops it.
  const int64_t rounds = (chunks + R - 1) / R;
  const data::ItemTokenReader reader(dataset_);
  const parallel::RunStageBlocks run = run_stage_blocks();
  std::vector<at::Tensor> parts;
  for (int64_t round = 0; round < rounds; ++round) {
    const int64_t from = first + round * chunk;
    const bool real = from < end;
    const int64_t begin_item = real ? from : 1, count = real ? std::min(end, from + chunk) - from : 1;
    models::Activations inputs;
    if (stage == 0) {  // the only stage that reads item text
      std::vector<int64_t> ids(static_cast<size_t>(count)), offsets, tokens;
      std::iota(ids.begin(), ids.end(), begin_item);
      reader.read(ids, &offsets, &tokens);
      inputs = {{"token_offsets", at::tensor(offsets, at::kLong).to(device_)},
                {"tokens", at::tensor(tokens, at::kLong).to(device_)}};
    }
    models::Activations out;
    if (pipelined) {
      out = parallel::pipeline_forward(tensor_pp_, cut_, run, 0, item_end_, std::move(inputs), {}, device_);
    } else {
      run(0, item_end_, inputs);
      out = std::move(inputs);
    }
    if (stage == embedder && real) parts.push_back(out.at("item_embeddings"));
  }
  at::Tensor all;
  if (stage == embedder) {
    // A replica without a chunk still gathers, in the dtype and on the device of the others' embeddings.
    const at::Tensor& table = owned_.front().second;  // the embedder's first parameter: float32 or bf16 as the model
    const int64_t hidden = catalog_width_;
    const at::Tensor mine = parts.empty() ? at::zeros({0, hidden}, table.options().requires_grad(false))
                                          : at::cat(parts, 0).contiguous();
    std::vector<int64_t> counts;
    for (int r = 0; r < replicas.size(); ++r) counts.push_back(hidden * (first_item_of(r + 1) - first_item_of(r)));
    all = mine.view({-1});
    if (replicas.size() > 1) {
      all = at::empty({items * hidden}, mine.options());
      replicas.all_gather_v(mine.view({-1}), all, counts)->wait();
    }
    all = all.view({items, hidden});
  }
  if (pipelined) {  // the other stages learn the dtype, then receive the table
    at::Tensor dtype = at::full({1}, stage == embedder ? static_cast<int64_t>(all.scalar_type()) : 0,
                                at::TensorOptions(at::kLong).device(device_));
    tensor_pp_.broadcast(dtype, embedder)->wait();
    if (stage != embedder) {
      all = at::empty({items, catalog_width_},
                      at::TensorOptions(static_cast<at::ScalarType>(dtype.cpu().item<int64_t>())).device(device_));
    }
    tensor_pp_.broadcast(all, embedder)->wait();
  }
  return at::cat({at::zeros({1, all.size(1)}, all.options()), all}, 0);
}

parallel::RunStageBlocks Engine::run_stage_blocks() {
  parallel::zero::BlockRunner* runner = training_ ? training_->runner() : nullptr;
  if (runner) {  // the trained parameters, as training holds them (ZeRO-3: gathered block by block)
    return [runner](size_t first, size_t end, models::Activations& a) { runner->forward_without_grad(first, end, a); };
  }
  return [this](size_t first, size_t end, models::Activations& a) {
    c10::NoGradGuard no_grad;
    models::run_blocks(stage_blocks_, a, first, end);
  };
}

int Engine::stage_of_block(size_t block) const { return topology_.pp() > 1 ? cut_.stage_of(block) : 0; }

std::map<std::string, double> Engine::rank_users(data::EvalSplit split,
                                                 const std::function<at::Tensor(const data::EvalBatch&)>& score_rows) {
  c10::NoGradGuard no_grad;
  parallel::Communicator& world = topology_.world();
  // Users are split over the model's replicas: the ranks, or under pp the pipelines (each of whose stages
  // walks the same batches).
  const bool pipelined = topology_.pp() > 1;
  const data::EvalLoader loader(dataset_, split, pipelined ? topology_.dp_index() : world.rank(),
                                pipelined ? topology_.dp() : world.size(), config_.train.eval_batch_size,
                                config_.data.max_item_list_len);
  RankingMetrics metrics;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const data::EvalBatch batch = loader.batch(b);
    const at::Tensor scores = score_rows(batch);
    if (scores.defined()) metrics.add(scores, batch.targets, batch.history_offsets, batch.history_items);
  }
  at::Tensor sums = at::tensor(metrics.sums(), at::kDouble);
  world.all_reduce(sums, parallel::ReduceOp::kSum)->wait();
  metrics.set_sums(std::vector<double>(sums.data_ptr<double>(), sums.data_ptr<double>() + sums.numel()));
  return metrics.averages();
}

std::map<std::string, double> Engine::evaluate(data::EvalSplit split) { return evaluate_with(catalog_embeddings(), split); }

void Engine::gather_id_model(bool whole) {
  if (model_->reads_item_tokens() || !training_) return;
  if (whole) {
    training_->gather_parameters();
  } else {
    training_->release_parameters();
  }
}

std::map<std::string, double> Engine::evaluate_with(const at::Tensor& catalog, data::EvalSplit split) {
  c10::NoGradGuard no_grad;
  const at::Tensor unit_catalog = catalog / catalog.norm(2, {-1}, true).clamp_min(1e-12);
  const auto score = [&](const at::Tensor& states) {
    return at::matmul(states / states.norm(2, {-1}, true).clamp_min(1e-12), unit_catalog.t());
  };
  if (!model_->reads_item_tokens()) {  // an ID model: its own forward, whole (one block)
    gather_id_model(true);
    auto metrics =
        rank_users(split, [&](const data::EvalBatch& batch) { return score(model_->user_states(batch, catalog)); });
    gather_id_model(false);
    return metrics;
  }
  // HLLM: the users pass through the User LLM's blocks (under pp, through the stages that hold them; the one
  // that finishes it scores; under ZeRO-3 each block gathered in turn).
  const int stage = topology_.stage_id();
  const parallel::RunStageBlocks run = run_stage_blocks();
  return rank_users(split, [&](const data::EvalBatch& batch) {
    models::Activations inputs;
    if (stage == stage_of_block(user_begin_)) {
      const at::Tensor items = at::tensor(batch.items, at::kLong).view({batch.rows, batch.width}).to(device_);
      inputs = {{"item_embeddings", catalog}, {"item_slots", items}, {"mask", items.ne(0)}};
    }
    models::Activations out;
    if (topology_.pp() > 1) {  // only the sequences go on, not the catalogue
      out = parallel::pipeline_forward(tensor_pp_, cut_, run, user_begin_, user_end_, std::move(inputs),
                                       {"item_embeddings", "user_sequences", "user_sequence_mask"}, device_);
    } else {
      run(user_begin_, user_end_, inputs);
      out = std::move(inputs);
    }
    return out.empty() ? at::Tensor() : score(out.at("user_states").select(1, batch.width - 1));
  });
}

std::map<std::string, double> Engine::evaluate_popularity(data::EvalSplit split) {
  // Training frequency of each item, over every user's training part (all but the last two items): each
  // rank counts a contiguous share of the users, the counts are summed.
  parallel::Communicator& world = topology_.world();
  const int64_t users = dataset_.num_users();
  at::Tensor popularity = at::zeros({dataset_.num_items() + 1}, at::kFloat);
  float* counts = popularity.data_ptr<float>();
  for (const auto& user : data::read_user_sequences(dataset_, users * world.rank() / world.size(),
                                                    users * (world.rank() + 1) / world.size())) {
    for (size_t i = 0; i + 2 < user.items.size(); ++i) counts[user.items[i]] += 1.0f;
  }
  world.all_reduce(popularity, parallel::ReduceOp::kSum)->wait();
  popularity = popularity.view({1, -1});
  const bool scores = topology_.is_last_stage();  // one stage of each pipeline counts
  return rank_users(split, [&](const data::EvalBatch& batch) {
    return scores ? popularity.expand({batch.rows, -1}) : at::Tensor();
  });
}

TrainReport Engine::train() {
  parallel::Communicator& dp = topology_.dp_group();        // host-side sums
  const bool speaker = topology_.rank() == 0;
  data::LoaderOptions loader_options;
  loader_options.max_item_list_len = config_.data.max_item_list_len;
  loader_options.micro_batch = batch_.micro_batch_per_rank;
  loader_options.num_negatives = config_.data.num_negatives;
  loader_options.seed = static_cast<uint64_t>(config_.seed);
  loader_options.dp_rank = topology_.dp_index();
  loader_options.dp_size = topology_.dp();
  loader_options.read_item_tokens = model_->reads_item_tokens();
  // Under pp only the first stage reads batches; the others keep the loader for its counts and position.
  if (!topology_.is_first_stage()) loader_options.prefetch = 0;
  data::ShardedLoader loader(dataset_, loader_options);

  const int64_t accumulation = batch_.gradient_accumulation_steps;
  const int64_t steps_per_epoch = std::max<int64_t>(1, loader.batches_per_epoch() / accumulation);
  const int64_t total = config_.train.max_steps > 0 ? config_.train.max_steps : steps_per_epoch * config_.train.epochs;
  HLLM_CHECK(training_, "this engine was made for evaluation (EngineUse::kEvaluate); it does not train");
  TrainingStep& training = *training_;
  const double peak_lr = config_.optimizer.params.lr;

  TrainReport report;
  RunState run;
  double shown_loss = std::nan(""), shown_rate = 0;  // the progress bar's, from the last logged interval

  // Checkpoints: everything the rest of the run depends on — the training state (parameters, masters,
  // moments, optimizer steps), the step, the loader's position and the run state (runtime/run_state.h) —
  // so a resumed run continues bit for bit. Saves are written by a background thread while training goes
  // on, or on the CPU from the training tensors while it waits (checkpoint.async_save;
  // checkpoint/async_checkpointer.h).
  checkpoint::AsyncCheckpointer saver(topology_.world(), saves_in_background());
  const auto finish_saving = [&] {
    const std::string committed = saver.wait();
    const std::string error = saver.take_error();
    if (!error.empty()) LOG(ERROR) << "checkpoint not committed: " << error;
    if (committed.empty()) return;
    report.last_checkpoint = committed;
    LOG(INFO) << "checkpoint committed: " << committed;
  };
  const auto save = [&](int64_t steps_done) {
    finish_saving();  // the previous save, before the next snapshot
    checkpoint::CheckpointContent content = training.state();
    const data::LoaderState position = loader.state();
    content.scalars["step"] = steps_done;
    content.scalars["loader"] = {{"epoch", position.epoch}, {"batch", position.batch}};
    run.save(&content, topology_);
    checkpoint::SaveOptions options;
    options.root = checkpoint_root();
    options.step = steps_done;
    options.keep_last = config_.checkpoint.keep_last;
    options.info = {{"world_size", topology_.world_size()}, {"dp", topology_.dp()}, {"pp", topology_.pp()},
                    {"zero_stage", config_.zero_optimization.stage}, {"config", config::config_to_json(config_)}};
    saver.save(content, options);
    if (!saves_in_background()) finish_saving();  // committed already: said now
  };
  int64_t first_step = 0;
  if (!resume_from_.empty()) {
    const checkpoint::Checkpoint from(resume_from_);
    training.load_state(from);
    const auto& s = from.scalars();
    first_step = s.at("step").get<int64_t>();
    loader.restore({s.at("loader").at("epoch").get<int64_t>(), s.at("loader").at("batch").get<int64_t>()});
    run.load(from, topology_, training.parameter_pieces());
    report.resumed_from = first_step;
    if (speaker) LOG(INFO) << "resumed from " << resume_from_ << " at step " << first_step << " of " << total;
  }
  start_metrics_log(first_step);

  ProgressBar bar(speaker && progress_bar_, total);
  const auto start = Clock::now();
  auto interval_start = start;
  auto last_save = start;
  const bool watch = stop_flag_ != nullptr || config_.checkpoint.interval_minutes > 0;
  // At a step boundary: save when due, and stop (true) when any rank was asked to — all ranks agree first.
  const auto boundary = [&](int64_t steps_done) {
    bool stop = false, timed = false;
    if (watch) {
      const double minutes = std::chrono::duration<double>(Clock::now() - last_save).count() / 60;
      at::Tensor flags = at::tensor({stop_flag_ && stop_flag_->load() != 0 ? 1.0 : 0.0,
                                     config_.checkpoint.interval_minutes > 0 && topology_.rank() == 0 &&
                                             minutes >= config_.checkpoint.interval_minutes ? 1.0 : 0.0},
                                    at::kDouble);
      topology_.world().all_reduce(flags, parallel::ReduceOp::kMax)->wait();
      stop = flags[0].item<double>() > 0;
      timed = flags[1].item<double>() > 0;
    }
    const bool by_steps = config_.checkpoint.interval_steps > 0 && steps_done % config_.checkpoint.interval_steps == 0;
    if (stop || timed || by_steps) {
      bar.clear();
      save(steps_done);
      last_save = Clock::now();
    }
    return stop;
  };
  const auto stopped = [&](int64_t steps_done) {  // preempted: saved, no evaluation
    finish_saving();
    report.preempted = true;
    report.steps = steps_done;
    report.skipped_steps = run.skipped_steps;
    report.first_loss = run.log.first_loss;
    report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return report;
  };
  for (int64_t step = first_step; step < total; ++step) {
    if (step > first_step && boundary(step)) {
      if (speaker) LOG(WARNING) << "stopped at step " << step << " on request, checkpoint committed; resume with --resume auto";
      return stopped(step);
    }
    const double lr = learning_rate(config_.scheduler, peak_lr, step, total);
    const StepResult result = training.run([&loader] { return loader.next(); }, accumulation, lr);
    run.log.samples += result.samples;
    run.log.tokens += result.tokens;
    if (result.skipped) {
      ++run.skipped_steps;
      if (++run.nan_in_a_row >= config_.train.max_nan_steps) {
        throw Error(detail::concat("step ", step, ": ", run.nan_in_a_row,
                                   " optimizer steps in a row had NaN or Inf gradients; stopping (train.max_nan_steps)"));
      }
      bar.clear();
      LOG(WARNING) << "step " << step << ": non-finite gradients, step skipped";
      continue;
    }
    run.nan_in_a_row = 0;
    if (step == 0) log_memory(training.memory());
    report.local_losses.push_back(result.loss);
    run.log.loss += result.loss;
    run.log.grad_norm += result.grad_norm;
    ++run.log.steps;
    const bool last = step + 1 == total;
    if ((step + 1) % config_.train.log_interval == 0 || last) {
      LogInterval& interval = run.log;
      const double loss = all_reduce_sum(dp, interval.loss / std::max<int64_t>(1, interval.steps)) / topology_.dp();
      const double seconds = std::chrono::duration<double>(Clock::now() - interval_start).count();
      // Samples and text tokens of every data-parallel replica (under pp, counted by the first stages).
      at::Tensor counts = at::tensor({static_cast<double>(interval.samples), static_cast<double>(interval.tokens)}, at::kDouble);
      topology_.world().all_reduce(counts, parallel::ReduceOp::kSum)->wait();
      const double samples = counts[0].item<double>(), tokens = counts[1].item<double>();
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      if (!interval.logged) interval.first_loss = loss;
      interval.logged = true;
      report.last_loss = loss;
      shown_loss = loss;
      shown_rate = samples / seconds;
      const double norm = interval.grad_norm / static_cast<double>(interval.steps);
      if (speaker) {
        bar.clear();
        std::printf("step %lld/%lld epoch %lld loss %.4f lr %.2e grad_norm %.3f samples/s %.0f", static_cast<long long>(step + 1),
                    static_cast<long long>(total), static_cast<long long>(loader.state().epoch), loss, lr, norm,
                    samples / seconds);
        if (tokens > 0) std::printf(" tokens/s %.0f", tokens / seconds);
        std::printf(" ETA %s\n", format_duration(elapsed / (step + 1) * (total - step - 1)).c_str());
        std::fflush(stdout);
      }
      nlohmann::json record{{"step", step + 1}, {"epoch", loader.state().epoch}, {"loss", loss}, {"lr", lr},
                            {"grad_norm", norm}, {"samples_per_second", samples / seconds}};
      if (tokens > 0) record["tokens_per_second"] = tokens / seconds;
      log_record(record.dump());
      interval.clear();
      interval_start = Clock::now();
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    bar.update(step + 1, shown_loss, shown_rate, elapsed / (step + 1) * (total - step - 1));
    report.steps = step + 1;
    if (config_.train.eval_interval > 0 && (step + 1) % config_.train.eval_interval == 0 && !last) {
      bar.clear();
      const auto valid = evaluate(data::EvalSplit::kValid);
      log_metrics("valid", step + 1, valid);
      if (run.best.step == 0 || valid.at(kSelectionMetric) > run.best.valid.at(kSelectionMetric)) {
        // The same decision on every rank (all saw the same metrics); each keeps its own share.
        run.best = {step + 1, valid, host_copy(training.parameter_pieces())};
      }
    }
  }
  report.steps = std::max(report.steps, total);
  if (boundary(total)) return stopped(report.steps);  // asked to stop during the last step: it is saved
  finish_saving();
  bar.clear();
  report.skipped_steps = run.skipped_steps;
  report.first_loss = run.log.first_loss;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.samples_per_second =
      static_cast<double>((report.steps - first_step) * batch_.train_batch_size) / std::max(report.seconds, 1e-9);
  // The best model by valid NDCG@200 (the last one unless an earlier validation beat it) is tested and kept.
  // The parameters stay as training holds them (ZeRO-3: sharded; evaluation and saving go block by block).
  report.memory = training.memory();
  end_phase("training");
  at::Tensor catalog = catalog_embeddings();  // embedded once for both splits
  report.valid = evaluate_with(catalog, data::EvalSplit::kValid);
  report.best_step = report.steps;
  log_metrics("valid", report.steps, report.valid);
  const BestModel& best = run.best;
  if (best.step > 0 && best.valid.at(kSelectionMetric) > report.valid.at(kSelectionMetric)) {
    training.restore_parameters(best.parameters);
    catalog = catalog_embeddings();
    report.valid = best.valid;
    report.best_step = best.step;
  }
  report.test = evaluate_with(catalog, data::EvalSplit::kTest);
  log_metrics("test", report.best_step, report.test);  // the test record carries the step of the tested model
  report.popularity_test = evaluate_popularity(data::EvalSplit::kTest);
  end_phase("evaluation");
  if (!run_dir_.empty()) {  // rank 0 writes the parameters (hllm_eval reads them back)
    if (speaker) std::filesystem::create_directories(run_dir_ + "/model");
    save_model(run_dir_ + "/model/model.safetensors");
  }
  end_phase("saving");
  report.peak = measure_peaks();  // the whole run's, saving included
  if (!run_dir_.empty() && speaker) write_report(report);
  return report;
}

void Engine::log_metrics(const char* split, int64_t step, const std::map<std::string, double>& metrics) {
  nlohmann::json record{{"step", step}, {"split", split}};
  for (const auto& [k, v] : metrics) record[k] = v;
  log_record(record.dump());
}

void Engine::start_metrics_log(int64_t first_step) {
  // A fresh run starts metrics.jsonl; a resumed one keeps the records up to its checkpoint's step (an
  // interrupted run may have logged beyond it).
  if (run_dir_.empty() || topology_.rank() != 0) return;
  std::vector<std::string> kept;
  if (first_step > 0) {
    std::ifstream in(run_dir_ + "/metrics.jsonl");
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && nlohmann::json::parse(line).value("step", int64_t{0}) <= first_step) kept.push_back(line);
    }
  }
  std::ofstream out(run_dir_ + "/metrics.jsonl", std::ios::trunc);
  for (const auto& line : kept) out << line << "\n";
}

void Engine::write_report(const TrainReport& report) const {
  nlohmann::ordered_json out;
  out["model"] = config_.model.type;
  out["world_size"] = topology_.world_size();
  out["pp"] = topology_.pp();
  out["steps"] = report.steps;
  out["best_step"] = report.best_step;
  out["skipped_steps"] = report.skipped_steps;
  out["wall_seconds"] = report.seconds;
  out["samples_per_second"] = report.samples_per_second;
  out["valid"] = report.valid;
  out["test"] = report.test;
  out["popularity_test"] = report.popularity_test;
  out["memory_per_rank"] = {{"zero_stage", config_.zero_optimization.stage},
                            {"activation_checkpointing", config_.activation_checkpointing.policy},
                            {"parameter_bytes", report.memory.parameter_bytes},
                            {"gradient_bytes", report.memory.gradient_bytes},
                            {"optimizer_bytes", report.memory.optimizer_bytes},
                            {"activation_bytes", report.memory.activation_bytes},
                            {"zero_gathered_elements_first_step", report.memory.gathered_elements},
                            {"zero_reduced_elements_first_step", report.memory.reduced_elements}};
  // The whole run's peaks per rank beside the plan (Engine::measure_peaks).
  out["peak_memory_per_rank"] = {{"host_rss_peak_bytes", report.peak.peak_rss},
                                 {"host_rss_before_model_bytes", report.peak.baseline_rss},
                                 {"tensor_max_allocated_bytes", report.peak.peak_tensors},
                                 {"planned_bytes", report.peak.planned},
                                 {"planned_bytes_by_phase", report.peak.phase_planned},
                                 {"host_rss_peak_bytes_by_phase", report.peak.phase_rss},
                                 {"tensor_max_allocated_bytes_by_phase", report.peak.phase_tensors}};
  out["config"] = config::config_to_json(config_);
  std::ofstream(run_dir_ + "/report.json") << out.dump(2) << "\n";
}

}  // namespace hllm::runtime
