// Two feature maps that kat does not ship, registered from a plugin:
//  - dpfp: the deterministic parameter-free projection of Schlag et al. 2021 ("Linear Transformers
//    Are Secretly Fast Weight Programmers", Section 5.2): r = relu([x, -x]) (2D values), and for
//    each v in 1..nu the products r_i * r_{i-v} (indices mod 2D), so M = 2 D nu features, all >= 0.
//  - hedgehog: a learned map in the style of Zhang et al. 2024 ("The Hedgehog & the Porcupine"):
//    phi(x) = [softmax(x W + b), softmax(-(x W + b))], W (D, D) and b learned (W starts at the
//    identity), M = 2 D features in (0, 1).
#include <kat/autograd/ops.h>
#include <kat/core/rng.h>
#include <kat/layers/attention/feature_maps/registry.h>
#include <kat/layers/plugin.h>

namespace {

class Dpfp : public kat::FeatureMap {
 public:
  explicit Dpfp(const kat::FeatureMapOptions& o) : FeatureMap("dpfp"), d_(o.head_dim), nu_(o.extra.integer("nu")) {}
  std::int64_t features() const override { return 2 * d_ * nu_; }
  kat::Variable forward(const kat::Variable& x, kat::FeatureRole, kat::Tensor*) override {
    const kat::Variable r = kat::relu(kat::concat({x, -x}, -1));  // (B, H, N, 2D)
    std::vector<kat::Variable> products;
    for (std::int64_t v = 1; v <= nu_; ++v) {
      // r rolled by v along the features: element i is r[(i - v) mod 2D].
      const kat::Variable rolled =
          kat::concat({kat::slice(r, -1, 2 * d_ - v, 2 * d_), kat::slice(r, -1, 0, 2 * d_ - v)}, -1);
      products.push_back(r * rolled);
    }
    return nu_ == 1 ? products[0] : kat::concat(products, -1);  // (B, H, N, 2 D nu)
  }

 private:
  std::int64_t d_, nu_;
};

class Hedgehog : public kat::FeatureMap {
 public:
  Hedgehog(const kat::FeatureMapOptions& o, kat::Rng& rng) : FeatureMap("hedgehog"), d_(o.head_dim) {
    kat::Tensor w = kat::Tensor::zeros({d_, d_});
    kat::fill_normal(w, rng, 0.0, 0.02);
    for (std::int64_t i = 0; i < d_; ++i) w.select(0, i).select(0, i).fill_(1.0);  // near the identity
    weight_ = register_parameter("weight", w);
    bias_ = register_parameter("bias", kat::Tensor::zeros({d_}));
  }
  std::int64_t features() const override { return 2 * d_; }
  kat::Variable forward(const kat::Variable& x, kat::FeatureRole, kat::Tensor*) override {
    const kat::Variable z = kat::matmul(x, weight_) + bias_;  // (B, H, N, D)
    return kat::concat({kat::softmax(z), kat::softmax(-z)}, -1);
  }

 private:
  std::int64_t d_;
  kat::Variable weight_, bias_;
};

void register_maps() {
  kat::FeatureMapInfo dpfp;
  dpfp.description = "DPFP (Schlag et al. 2021): products of relu([x, -x]) nu apart, deterministic, M = 2 D nu";
  dpfp.options = {kat::integer_option("nu", 1, "DPFP: products of features 1..nu apart (M = 2 D nu)", 1, 4)};
  kat::register_feature_map("dpfp", dpfp,
                            [](const kat::FeatureMapOptions& o, kat::Rng&) { return std::make_shared<Dpfp>(o); });

  kat::FeatureMapInfo hedgehog;
  hedgehog.description = "Hedgehog-style learned map: [softmax(xW + b), softmax(-(xW + b))], M = 2 D";
  hedgehog.learned = true;
  kat::register_feature_map("hedgehog", hedgehog, [](const kat::FeatureMapOptions& o, kat::Rng& rng) {
    return std::make_shared<Hedgehog>(o, rng);
  });
}

}  // namespace

KAT_PLUGIN("kat-example-maps", register_maps)
