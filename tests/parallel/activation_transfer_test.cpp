// What crosses a pipeline stage boundary, on two thread ranks: named tensors of any dtype and shape
// (booleans, zero-dimensional, empty) arrive as sent, floating ones that required grad as leaves that
// do; gradients go back in the same order, zeros for an input the receiver did not use; shapes may
// change from one message to the next; completed sends release their buffers.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "parallel/comm/thread_communicator.h"
#include "parallel/pipeline/activation_transfer.h"

namespace hllm::parallel {
namespace {

// The same tensors on both ranks (from arange: thread ranks share the global RNG), so the receiver checks
// what arrived against its own copy.
models::Activations sample(int64_t items) {
  const auto values = [](std::vector<int64_t> shape) {
    int64_t n = 1;
    for (const int64_t d : shape) n *= d;
    return (at::arange(n, at::kFloat) * 0.37).sin().view(shape);
  };
  models::Activations a;
  a["item_x.0"] = values({items, 3, 4}).requires_grad_(true);
  a["item_mask.0"] = values({items, 1, 3, 3}) > 0;
  a["item_buckets"] = at::full({}, int64_t{1}, at::kLong);
  a["unused"] = values({2}).requires_grad_(true);
  a["empty"] = at::zeros({0, 4});
  a["half"] = values({5}).to(at::kBFloat16);
  return a;
}

TEST(ActivationTransfer, ActivationsForwardAndGradientsBack) {
  run_thread_ranks(2, [](Communicator& comm) {
    for (const int64_t items : {3, 5}) {  // shapes change from message to message
      const models::Activations sent = sample(items);
      if (comm.rank() == 0) {
        PostedSends posted;
        send_activations(comm, 1, sent, &posted);
        posted.wait();
        EXPECT_EQ(posted.in_flight(), 0u);
        const auto gradients = recv_gradients(comm, 1, sent);
        ASSERT_EQ(gradients.size(), 2u);  // item_x.0 and unused, in name order
        EXPECT_TRUE(gradients[0].first.is_same(sent.at("item_x.0")));
        EXPECT_TRUE(at::equal(gradients[0].second, at::full({items, 3, 4}, 2.0)));
        EXPECT_TRUE(at::equal(gradients[1].second, at::zeros({2})));
      } else {
        const models::Activations got = recv_activations(comm, 0, at::kCPU);
        ASSERT_EQ(got.size(), sent.size());
        for (const auto& [name, t] : sent) {
          const at::Tensor& r = got.at(name);
          EXPECT_EQ(r.scalar_type(), t.scalar_type()) << name;
          EXPECT_EQ(r.sizes(), t.sizes()) << name;
          EXPECT_TRUE(at::equal(r, t.detach())) << name;
          EXPECT_EQ(r.requires_grad(), t.requires_grad()) << name;
          if (r.requires_grad()) {
            EXPECT_TRUE(r.is_leaf()) << name;
          }
        }
        (got.at("item_x.0") * 2).sum().backward();  // "unused" gets no gradient
        PostedSends posted;
        send_gradients(comm, 0, got, &posted);
        posted.wait();
      }
    }
  });
}

// A Work the test completes by hand.
class ScriptedWork : public Work {
 public:
  void wait() override { done = true; }
  bool is_completed() override { return done; }
  bool done = false;
};

TEST(ActivationTransfer, CompletedSendsReleaseTheirBuffers) {
  PostedSends posted;
  auto first = std::make_shared<ScriptedWork>(), second = std::make_shared<ScriptedWork>();
  at::Tensor buffer = at::zeros({4});
  posted.add(first, buffer);
  posted.add(second, at::zeros({4}));
  EXPECT_EQ(buffer.use_count(), 2);  // the test's and the posted send's
  posted.release_completed();
  EXPECT_EQ(posted.in_flight(), 2u);
  first->done = true;
  posted.release_completed();
  EXPECT_EQ(posted.in_flight(), 1u);
  EXPECT_EQ(buffer.use_count(), 1) << "the completed send's buffer was let go";
  posted.wait();
  EXPECT_EQ(posted.in_flight(), 0u);
  EXPECT_TRUE(second->done);
}

}  // namespace
}  // namespace hllm::parallel
