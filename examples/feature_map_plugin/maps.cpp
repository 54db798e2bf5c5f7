// Two feature maps that kat does not ship, registered from a plugin:
//  - dpfp: the deterministic parameter-free projection of Schlag et al. 2021 ("Linear Transformers
//    Are Secretly Fast Weight Programmers", Section 5.2): r = relu([x, -x]) (2D values), and for
//    each v in 1..nu the products r_i * r_{i-v} (indices mod 2D), so M = 2 D nu features, all >= 0.
//  - elu-proj: a learned map, phi(x) = elu(x W + b) + 1 with W (D, D) and b learned (W starts at
//    the identity, so the map starts as linear attention's elu(x) + 1), M = D features > 0.
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

class EluProjection : public kat::FeatureMap {
 public:
  EluProjection(const kat::FeatureMapOptions& o, kat::Rng& rng) : FeatureMap("elu_proj"), d_(o.head_dim) {
    kat::Tensor w = kat::Tensor::zeros({d_, d_});
    kat::fill_normal(w, rng, 0.0, 0.02);
    for (std::int64_t i = 0; i < d_; ++i) w.select(0, i).select(0, i).fill_(1.0);  // near the identity
    weight_ = register_parameter("weight", w);
    bias_ = register_parameter("bias", kat::Tensor::zeros({d_}));
  }
  std::int64_t features() const override { return d_; }
  kat::Variable forward(const kat::Variable& x, kat::FeatureRole, kat::Tensor*) override {
    return kat::elu(kat::matmul(x, weight_) + bias_) + 1.0;  // (B, H, N, D)
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

  kat::FeatureMapInfo elu_proj;
  elu_proj.description = "elu(x W + b) + 1 with W and b learned (W starting as the identity), M = D";
  elu_proj.learned = true;
  kat::register_feature_map("elu-proj", elu_proj, [](const kat::FeatureMapOptions& o, kat::Rng& rng) {
    return std::make_shared<EluProjection>(o, rng);
  });
}

}  // namespace

KAT_PLUGIN("kat-example-maps", register_maps)
