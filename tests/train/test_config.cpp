// Experiment files: defaults, the resolved config round trip, every example config, and a suite of
// malformed files, each with its expected FILE:LINE:COL message and, through the kat command, exit
// code 2.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "data/char_tokenizer.h"
#include "data/dataset.h"
#include "layers/attention/feature_maps/registry.h"
#include "tests/train/train_test_util.h"
#include "train/task_model.h"
#include "train/training_data.h"

using namespace kat;
using kat::test::read_file;
using kat::test::run_command;
using kat::test::ScratchDir;
using kat::test::write_file;

namespace {

// The diagnostics of parsing `yaml` (as file "exp.yaml") with overrides; empty when it validates.
std::vector<std::string> problems(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  try {
    parse_experiment(yaml, "exp.yaml", sets);
  } catch (const ConfigError& e) {
    std::vector<std::string> out;
    for (const auto& d : e.diagnostics()) out.push_back(d.to_string());
    return out;
  }
  return {};
}

std::string only_problem(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  const auto p = problems(yaml, sets);
  REQUIRE_MESSAGE(p.size() == 1, "problems: " << p.size() << (p.empty() ? "" : " first: " + p.front()));
  return p.front();
}

}  // namespace

TEST_CASE("config: the defaults validate and the resolved config reads back to the same experiment") {
  const Experiment d = default_experiment();
  CHECK(d.task == Task::lm);
  CHECK(d.optim.lr == 1e-3);
  CHECK(d.model.attention.type == "softmax");
  const Experiment again = parse_experiment(to_yaml(d), "resolved.yaml");
  CHECK(differing_keys(d, again).empty());

  Experiment e = parse_experiment("task: translation\ndata: {synthetic: {task: reverse}}\noptim: {lr: 3.0e-5}\n",
                                  "exp.yaml", {"model.attention.type=performer", "model.attention.features=16"});
  CHECK(e.optim.lr == 3e-5);
  CHECK(e.model.attention.features == 16);
  const std::string yaml = to_yaml(e);
  CHECK(yaml.find("  lr: 3e-05\n") != std::string::npos);
  CHECK(yaml.find("features: 16") != std::string::npos);
  CHECK(yaml.find("momentum") == std::string::npos);  // no effect with adamw: left out
  CHECK(differing_keys(e, parse_experiment(yaml, "resolved.yaml")).empty());
  CHECK(differing_keys(e, d) == std::vector<std::string>{"task", "data.synthetic.task", "model.attention.type",
                                                         "model.attention.features", "optim.lr"});
}

TEST_CASE("config: every example in configs/ validates and builds its model") {
  // Corpus experiments read prepared datasets (kat prepare bible); stand-ins of the same layout
  // take their place here, so the files are checked without the corpus.
  ScratchDir dir("configs");
  auto tok = CharTokenizer::bytes();
  auto dataset = [&](const std::string& name, const std::vector<std::string>& sides) {
    TokenDataset d;
    d.corpus = "stand-in";
    d.split = name;
    std::vector<std::string> lines;
    for (int i = 0; i < 400; ++i) lines.push_back("line " + std::to_string(i) + " of a stand-in corpus");
    for (const auto& side : sides) d.sides.push_back(tokenize_lines(side, lines, *tok, name));
    write_token_dataset(dir.file(name + ".h5"), d);
    return dir.file(name + ".h5");
  };
  const std::string lm_train = dataset("lm-train", {"en"}), lm_valid = dataset("lm-valid", {"en"});
  const std::string mt_train = dataset("mt-train", {"en", "es"}), mt_valid = dataset("mt-valid", {"en", "es"});
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(KAT_SOURCE_DIR "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    CAPTURE(entry.path().string());
    const std::string text = read_file(entry.path().string());
    std::vector<std::string> sets;
    if (text.find("kind: corpus") != std::string::npos) {
      const bool lm = text.find("task: lm") != std::string::npos;
      sets = {"data.train=" + (lm ? lm_train : mt_train), "data.valid=" + (lm ? lm_valid : mt_valid)};
    }
    Experiment e;
    REQUIRE_NOTHROW(e = load_experiment(entry.path().string(), sets));
    Rng rng(1);
    const TrainingData data = make_training_data(e, rng);
    CHECK_NOTHROW(make_task_model(e, data, rng));
    ++files;
  }
  CHECK(files >= 12);
}

TEST_CASE("config: a YAML syntax error is located") {
  CHECK(only_problem("task: lm\nmodel: {layers: 2\n") == "exp.yaml:3:1: YAML syntax error: end of map flow not found");
  CHECK(only_problem("model:\n  layers: 2\n   heads: 4\n").rfind("exp.yaml:3:", 0) == 0);
}

TEST_CASE("config: invalid UTF-8 is located, in the file and in an override") {
  CHECK(only_problem("task: lm\noutput:\n  dir: run\xA9/x\n") ==
        "exp.yaml:3:11: invalid UTF-8 (an experiment file is UTF-8 text)");
  CHECK(only_problem("", {"output.dir=run\xA9"}) == "--set output.dir=run\xA9: invalid UTF-8");
}

TEST_CASE("config: an unknown key names the closest valid key") {
  CHECK(only_problem("optim:\n  lerning_rate: 0.1\n") ==
        "exp.yaml:2:3: unknown key 'optim.lerning_rate' (did you mean 'optim.lr'?)");
  CHECK(only_problem("model:\n  atention: {type: linear}\n") ==
        "exp.yaml:2:3: unknown key 'model.atention' (did you mean 'model.attention'?)");
  CHECK(only_problem("lr: 0.1\n") == "exp.yaml:1:1: unknown key 'lr' (did you mean 'optim.lr'?)");
  CHECK(only_problem("train:\n  colour: blue\n") == "exp.yaml:2:3: unknown key 'train.colour'");
  CHECK(only_problem("model: 3\n").find("'model' is a section: expected a mapping") != std::string::npos);
}

TEST_CASE("config: a wrong type names the key and what was expected") {
  CHECK(only_problem("model:\n  layers: two\n") == "exp.yaml:2:11: 'model.layers' expects an integer, got 'two'");
  CHECK(only_problem("model:\n  layers: 2.5\n") == "exp.yaml:2:11: 'model.layers' expects an integer, got '2.5'");
  CHECK(only_problem("optim:\n  lr: [1, 2]\n") == "exp.yaml:2:7: 'optim.lr' expects a number, got a list");
  CHECK(only_problem("model:\n  tie_embeddings: maybe\n") ==
        "exp.yaml:2:19: 'model.tie_embeddings' expects true or false, got 'maybe'");
  CHECK(only_problem("optim:\n  lr: .inf\n") == "exp.yaml:2:7: 'optim.lr' expects a number, got '.inf'");
}

TEST_CASE("config: values out of range") {
  CHECK(only_problem("optim:\n  lr: -0.001\n") == "exp.yaml:2:7: 'optim.lr' must be > 0.0, got -0.001");
  CHECK(only_problem("model:\n  dropout: 1\n") == "exp.yaml:2:12: 'model.dropout' must be in [0.0, 1.0), got 1.0");
  CHECK(only_problem("model:\n  attention:\n    type: softmx\n") ==
        "exp.yaml:3:11: 'model.attention.type' must be one of linear, performer, softmax, got 'softmx' (did you mean "
        "'softmax'?)");
}

TEST_CASE("config: cross-field errors") {
  CHECK(only_problem("model:\n  d_model: 100\n  heads: 3\n") ==
        "exp.yaml:3:10: model.d_model (100) must be divisible by model.heads (3)");
  CHECK(only_problem("model:\n  attention: {type: performer}\n") ==
        "exp.yaml:2:21: performer attention with the favor+ feature map needs model.attention.features > 0 (the "
        "width of its features, e.g. 64)");
  CHECK(only_problem("model:\n  attention: {type: softmax, features: 64}\n") ==
        "exp.yaml:2:40: 'model.attention.features' has no effect here: it applies to linear and performer attention "
        "only");
  CHECK(only_problem("model:\n  attention: {type: linear, redraw_interval: 100}\n") ==
        "exp.yaml:2:46: 'model.attention.redraw_interval' has no effect here: it applies to the feature maps "
        "favor+, favor-trig, not elu");
  CHECK(only_problem("model:\n  attention: {type: linear, feature_map: favor-trig}\n")
            .find("linear attention with the favor-trig feature map needs model.attention.features > 0") !=
        std::string::npos);
  CHECK(only_problem("model:\n  attention: {type: linear, feature_map: eluu}\n")
            .rfind("exp.yaml:2:42: unknown feature map 'eluu' (known: elu, favor+, favor-trig, hedgehog, relu, t2r",
                   0) == 0);
  CHECK(
      problems("model:\n  attention: {type: performer, features: 32, redraw_interval: 100, norms: sqrt_d}\n").empty());
  CHECK(only_problem("task: translation\n") ==
        "exp.yaml:1:7: synthetic task 'markov' is for task: lm; use copy or reverse with task: translation");
  CHECK(only_problem("train: {steps: 0}\n") ==
        "exp.yaml:1:16: give exactly one of train.steps and train.epochs as > 0 (got steps 0, epochs 0)");
  CHECK(only_problem("schedule: {type: cosine, warmup: 2000}\n") ==
        "exp.yaml:1:34: schedule cosine decays over steps 2000..1000: schedule.warmup (2000) must be below that total");
  CHECK(only_problem("optim: {type: sgd, nesterov: true}\n") ==
        "exp.yaml:1:30: optim.nesterov needs optim.momentum > 0");
  const auto corpus = problems("data: {kind: corpus, train: /no/such/train.h5, valid: /no/such/valid.h5}\n");
  REQUIRE(corpus.size() == 2);
  CHECK(corpus[0] == "exp.yaml:1:29: 'data.train': no such file '/no/such/train.h5'");
  CHECK(corpus[1] == "exp.yaml:1:55: 'data.valid': no such file '/no/such/valid.h5'");
}

TEST_CASE("config: a registered feature map's own options are validated like built-in keys, from its descriptor") {
  static const bool registered = [] {
    FeatureMapInfo info;
    info.description = "elu with a declared option (test)";
    info.uses = {feature_map_keys::features};
    info.needs_features = true;
    info.options = {integer_option("nu", 1, "products nu apart", 1, 3),
                    string_option("kind", "plain", "which variant", {"plain", "fancy"})};
    register_feature_map("test-declared", info, [](const FeatureMapOptions& o, Rng&) {
      FeatureMapOptions elu = o;
      elu.name = "elu";
      Rng unused(0);
      return make_feature_map(elu, unused);
    });
    return true;
  }();
  CHECK(registered);
  const std::string head = "model:\n  attention: {type: linear, feature_map: test-declared, features: 8, ";
  // Given, and defaulted.
  Experiment e = parse_experiment(head + "nu: 2}\n", "exp.yaml");
  CHECK(e.model.attention.extra.integer("nu") == 2);
  CHECK(e.model.attention.extra.string("kind") == "plain");
  // Written out and read back the same; a change is a change of the experiment.
  const Experiment again = parse_experiment(to_yaml(e), "resolved.yaml");
  CHECK(again.model.attention.extra == e.model.attention.extra);
  CHECK(to_yaml(e).find("    nu: 2\n") != std::string::npos);
  Experiment other = parse_experiment(head + "nu: 3}\n", "exp.yaml");
  CHECK(differing_keys(e, other) == std::vector<std::string>{"model.attention.nu"});
  // Located errors: a range, a choice, a typo with the closest key, an override.
  CHECK(only_problem(head + "nu: 5}\n") == "exp.yaml:2:74: 'model.attention.nu': 'nu' must be in [1, 3], got 5");
  CHECK(only_problem(head + "kind: fency}\n") ==
        "exp.yaml:2:76: 'model.attention.kind': 'kind' must be one of plain, fancy, got 'fency'");
  CHECK(only_problem(head + "nux: 2}\n") ==
        "exp.yaml:2:70: unknown key 'model.attention.nux' (did you mean 'model.attention.nu'?)");
  CHECK(only_problem(head + "nu: 2}\n", {"model.attention.nu=two"}) ==
        "--set model.attention.nu=two: 'model.attention.nu': 'nu' expects an integer, got 'two'");
  // Under another map the option has no effect, and says which map reads it.
  CHECK(only_problem("model:\n  attention: {type: linear, nu: 2}\n") ==
        "exp.yaml:2:29: 'model.attention.nu' has no effect here: it applies to the feature map test-declared, not "
        "elu");
}

TEST_CASE("config: hybrid models, an attention per sublayer of a translation model or per layer of a language model") {
  const std::string mt = "task: translation\ndata: {synthetic: {task: copy}}\nmodel:\n";
  // A translation model: self-attention linear, cross-attention its own section with its own keys.
  Experiment e = parse_experiment(
      mt + "  attention: {type: linear}\n  cross_attention: {type: performer, features: 16, redraw_interval: 5}\n",
      "exp.yaml");
  CHECK(e.model.attention.type == "linear");
  CHECK(e.model.cross_attention.type == "performer");
  CHECK(e.model.cross_attention.features == 16);
  CHECK(e.model.cross_attention.redraw_interval == 5);
  CHECK(e.model.encoder_attention.type.empty());
  CHECK(describe_attention(e) == "linear (elu) self / performer (favor+, m=16, redraw 5) cross");
  // Written out and read back the same; the section is a difference between experiments.
  const Experiment again = parse_experiment(to_yaml(e), "resolved.yaml");
  CHECK(to_yaml(again) == to_yaml(e));
  Experiment plain = parse_experiment(mt + "  attention: {type: linear}\n", "exp.yaml");
  const auto diff = differing_keys(plain, e);
  CHECK(std::find(diff.begin(), diff.end(), "model.cross_attention.type") != diff.end());
  CHECK(describe_attention(plain) == "linear (elu)");
  // Encoder and decoder apart.
  e = parse_experiment(mt + "  encoder_attention: {type: linear}\n", "exp.yaml");
  CHECK(describe_attention(e) == "linear (elu) encoder, softmax decoder / softmax cross");

  // Located errors in a section: an unknown type, a key without effect, a missing width, a key
  // given without the section's type, a typo, and a section that a language model does not read.
  CHECK(only_problem(mt + "  cross_attention: {type: softmx}\n").find("'model.cross_attention.type': ") !=
        std::string::npos);
  CHECK(only_problem(mt + "  cross_attention: {type: softmax, features: 8}\n") ==
        "exp.yaml:4:46: 'model.cross_attention.features' has no effect here: it applies to linear and performer "
        "attention only");
  CHECK(only_problem(mt + "  cross_attention: {type: performer}\n")
            .find("performer attention with the favor+ feature map needs model.cross_attention.features > 0") !=
        std::string::npos);
  CHECK(only_problem(mt + "  cross_attention: {features: 8}\n")
            .find("'model.cross_attention.features' has no effect here: model.cross_attention.type is not given") !=
        std::string::npos);
  CHECK(only_problem(mt + "  cross_attention: {type: linear, featurs: 8}\n")
            .find("unknown key 'model.cross_attention.featurs' (did you mean 'model.cross_attention.features'?)") !=
        std::string::npos);
  CHECK(only_problem("model:\n  cross_attention: {type: linear}\n").find("applies to task: translation only") !=
        std::string::npos);

  // A language model: one type per layer, the shared keys read by whichever layers use them.
  e = parse_experiment(
      "model:\n  layers: 3\n  layer_attention: [linear, softmax, performer]\n"
      "  attention: {features: 16}\n",
      "exp.yaml");
  CHECK(e.model.layer_attention == std::vector<std::string>{"linear", "softmax", "performer"});
  CHECK(describe_attention(e) == "linear (elu, m=16), softmax, performer (favor+, m=16)");
  CHECK(to_yaml(parse_experiment(to_yaml(e), "resolved.yaml")) == to_yaml(e));
  CHECK(only_problem("model:\n  layers: 3\n  layer_attention: [linear, softmax]\n")
            .find("model.layer_attention names 2 attention types for model.layers = 3: one per layer") !=
        std::string::npos);
  CHECK(only_problem("model:\n  layers: 2\n  layer_attention: [linear, performer]\n")
            .find("needs model.attention.features > 0") != std::string::npos);
  CHECK(only_problem("model:\n  layers: 2\n  layer_attention: [linear, softmx]\n").find("softmx") != std::string::npos);
  CHECK(only_problem(mt + "  layer_attention: [linear, linear]\n").find("applies to task: lm only") !=
        std::string::npos);
  // features is read by the Performer layer even though model.attention.type is softmax.
  CHECK(problems("model:\n  layers: 2\n  layer_attention: [softmax, performer]\n  attention: {features: 8}\n").empty());
  CHECK(only_problem("model:\n  layers: 2\n  layer_attention: [softmax, linear]\n  attention: {features: 8}\n")
            .find("'model.attention.features' has no effect here") != std::string::npos);

  // The example hybrids say what they are.
  for (const char* file : {"linear-cross-softmax.yaml", "performer-cross-softmax.yaml"}) {
    CAPTURE(file);
    const Experiment hybrid = load_run_config(std::string(KAT_SOURCE_DIR) + "/configs/mt/" + file);
    CHECK(describe_attention(hybrid).find(" cross") != std::string::npos);
    CHECK(hybrid.model.cross_attention.type == "softmax");
  }
}

TEST_CASE("config: train.time_budget is a duration") {
  CHECK(parse_duration("90s") == 90.0);
  CHECK(parse_duration("25m") == 1500.0);
  CHECK(parse_duration("1h30m") == 5400.0);
  CHECK(parse_duration("1.5h") == 5400.0);
  CHECK(parse_duration("2m30s") == 150.0);
  for (const char* bad : {"", "90", "m", "5x", "-5m", "0s", "1e3s", "inf s", "infs", " 5m", "5m ", "1.2.3m", "0x10s"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration(bad).has_value());
  }
  Experiment e = parse_experiment("train: {time_budget: 25m}\n", "exp.yaml");
  CHECK(time_budget_seconds(e) == 1500.0);
  CHECK(time_budget_seconds(parse_experiment("", "exp.yaml")) == 0.0);
  CHECK(only_problem("train: {time_budget: 25 minutes}\n") ==
        "exp.yaml:1:22: 'train.time_budget' expects a duration such as 90s, 25m or 1h30m, got '25 minutes'");
}

TEST_CASE("config: every problem is reported at once, in file order, overrides last") {
  const auto p = problems("model:\n  layers: two\n  heads: 0\noptim:\n  lr: -1\n  beta3: 0.9\n",
                          {"train.step=3", "optim.type=adamx", "nokey"});
  REQUIRE(p.size() == 7);
  CHECK(p[0] == "exp.yaml:2:11: 'model.layers' expects an integer, got 'two'");
  CHECK(p[1] == "exp.yaml:3:10: 'model.heads' must be >= 1, got 0");
  CHECK(p[2] == "exp.yaml:5:7: 'optim.lr' must be > 0.0, got -1.0");
  CHECK(p[3] == "exp.yaml:6:3: unknown key 'optim.beta3' (did you mean 'optim.beta1'?)");
  CHECK(p[4] == "--set train.step=3: unknown key 'train.step' (did you mean 'train.steps'?)");
  CHECK(p[5] == "--set nokey: expected KEY=VALUE, e.g. --set optim.lr=3e-4");
  CHECK(p[6].rfind("--set optim.type=adamx: 'optim.type' must be one of adam, adamw, sgd", 0) == 0);
}

TEST_CASE("config: checks across keys are reported together with the others, unless a key they name is wrong") {
  const auto p = problems("model:\n  d_model: 100\n  heads: 3\n  layers: two\noptim: {lr: -1}\n", {});
  REQUIRE(p.size() == 3);
  CHECK(p[0] == "exp.yaml:3:10: model.d_model (100) must be divisible by model.heads (3)");
  CHECK(p[1] == "exp.yaml:4:11: 'model.layers' expects an integer, got 'two'");
  CHECK(p[2] == "exp.yaml:5:13: 'optim.lr' must be > 0.0, got -1.0");
  // heads 0 is wrong by itself: d_model % heads says nothing more.
  const auto q = problems("model: {d_model: 100, heads: 0}\n", {});
  REQUIRE(q.size() == 1);
  CHECK(q[0] == "exp.yaml:1:30: 'model.heads' must be >= 1, got 0");
}

TEST_CASE("config: overrides replace file values and are checked like them") {
  const Experiment e = parse_experiment("optim: {lr: 0.1}\nmodel: {layers: 6}\n", "exp.yaml",
                                        {"optim.lr=3e-4", "model.layers=2", "output.dir=runs/x y"});
  CHECK(e.optim.lr == 3e-4);
  CHECK(e.model.layers == 2);
  CHECK(e.output.dir == "runs/x y");
  CHECK(only_problem("", {"model.layers=-2"}) == "--set model.layers=-2: 'model.layers' must be in [1, 256], got -2");
  CHECK(only_problem("model: {d_model: 64}\n", {"model.heads=5"}) ==
        "--set model.heads=5: model.d_model (64) must be divisible by model.heads (5)");
}

TEST_CASE("config: a missing file, a folder") {
  CHECK_THROWS_WITH_AS(load_experiment("/no/such/exp.yaml"), "/no/such/exp.yaml: no such experiment file", ConfigError);
  ScratchDir dir("config-folder");
  CHECK_THROWS_WITH_AS(load_experiment(dir.path().string()), doctest::Contains("is a folder"), ConfigError);
}

TEST_CASE("config: --explain lists every key with its default and help") {
  const std::string text = explain_experiment();
  for (const auto& f : experiment_schema().fields()) {
    CAPTURE(f->key());
    CHECK(text.find("  " + f->key() + " ") != std::string::npos);
    CHECK(!f->help().empty());
  }
  CHECK(text.find("optim.lr                           number = 0.001; > 0.0") != std::string::npos);
  CHECK(text.find("Peak learning rate") != std::string::npos);
}

TEST_CASE("kat config check: exit 0 on a good file, 2 with every message on bad ones") {
  ScratchDir dir("config-cli");
  const std::string kat = KAT_BINARY;
  struct Case {
    std::string name, yaml, expected;
  };
  const std::vector<Case> cases = {
      {"syntax.yaml", "task: lm\nmodel: {layers: 2\n", "syntax.yaml:3:1: YAML syntax error"},
      {"unknown.yaml", "optim:\n  lerning_rate: 0.1\n",
       "unknown.yaml:2:3: unknown key 'optim.lerning_rate' (did you mean 'optim.lr'?)"},
      {"type.yaml", "model:\n  layers: two\n", "type.yaml:2:11: 'model.layers' expects an integer, got 'two'"},
      {"lr.yaml", "optim:\n  lr: -3e-4\n", "lr.yaml:2:7: 'optim.lr' must be > 0.0, got -0.0003"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string path = write_file(dir.file(c.name), c.yaml);
    const auto r = run_command(kat + " config check " + path);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(c.expected) != std::string::npos);
    CHECK(r.output.find("1 error in the experiment") != std::string::npos);
  }
  const auto missing = run_command(kat + " config check " + dir.file("missing.yaml"));
  CHECK(missing.exit_code == 2);
  CHECK(missing.output.find("missing.yaml: no such experiment file") != std::string::npos);

  const std::string good = write_file(dir.file("good.yaml"), "task: lm\n");
  CHECK(run_command(kat + " config check " + good).exit_code == 0);
  const auto set = run_command(kat + " config check " + good + " --set model.heads=3");
  CHECK(set.exit_code == 2);
  CHECK(set.output.find("--set model.heads=3: model.d_model (128) must be divisible by model.heads (3)") !=
        std::string::npos);
  const auto show = run_command(kat + " config show " + good + " --set optim.lr=0.5");
  CHECK(show.exit_code == 0);
  CHECK(show.output.find("  lr: 0.5\n") != std::string::npos);
  const auto explain = run_command(kat + " config --explain");
  CHECK(explain.exit_code == 0);
  CHECK(explain.output.find("model.attention.redraw_interval") != std::string::npos);
}

TEST_CASE("config: data.seq_len_warmup doubles the windows in equal phases up to data.seq_len, and is checked") {
  const std::string file = std::string(KAT_SOURCE_DIR) + "/README.md";  // any existing file passes the check
  const std::string corpus = fmt::format("data: {{kind: corpus, train: {0}, valid: {0}, seq_len: 4096", file);
  const Experiment e = parse_experiment(corpus + ", seq_len_warmup: {start: 256, steps: 500}}\n", "exp.yaml");
  // Five phases of 100 steps: 256, 512, 1024, 2048, then 4096.
  const std::vector<std::pair<std::int64_t, std::int64_t>> expected = {
      {1, 256}, {100, 256}, {101, 512}, {200, 512}, {201, 1024}, {400, 2048}, {401, 4096}, {500, 4096}, {501, 4096}};
  for (const auto& [step, length] : expected) {
    CAPTURE(step);
    CHECK(window_length(e.data, step) == length);
  }
  CHECK(window_length(default_experiment().data, 1) == default_experiment().data.seq_len);  // off by default

  CHECK(only_problem(corpus + ", seq_len_warmup: {start: 300, steps: 10}}\n").find("divided by a power of two") !=
        std::string::npos);
  CHECK(only_problem(corpus + ", seq_len_warmup: {start: 1024}}\n").find("steps must be at least 1") !=
        std::string::npos);
  // Both keys of the section are refused where they have no effect.
  const auto sentences = problems(corpus + ", sentence_level: true, seq_len_warmup: {start: 1024, steps: 5}}\n");
  REQUIRE(sentences.size() == 2);
  CHECK(sentences[0].find("'data.seq_len_warmup.start' has no effect here") != std::string::npos);
  CHECK(sentences[0].find("not to data.sentence_level") != std::string::npos);
  const auto synthetic = problems("data: {seq_len_warmup: {start: 16, steps: 5}}\n");
  REQUIRE(synthetic.size() == 2);
  CHECK(synthetic[1].find("'data.seq_len_warmup.steps' has no effect here") != std::string::npos);
  CHECK(synthetic[1].find("language-model corpora only") != std::string::npos);
}

TEST_CASE("config: model.attention.window, causal self-attention only, shown by describe_attention") {
  const std::string lm = "model:\n  heads: 4\n  attention: {type: linear, feature_map: hedgehog, ";
  const Experiment e = parse_experiment(lm + "window: 64}\n", "exp.yaml");
  CHECK(e.model.attention.window == 64);
  CHECK(describe_attention(e) == "linear (hedgehog, window 64)");
  CHECK(differing_keys(e, parse_experiment(to_yaml(e), "resolved.yaml")).empty());
  CHECK(only_problem(lm + "window: -2}\n").find("'model.attention.window'") != std::string::npos);
  CHECK(only_problem("model:\n  attention: {type: performer, features: 16, window: 8}\n")
            .find("'model.attention.window': the favor+ feature map divides its features by stabilizing factors") !=
        std::string::npos);
  CHECK(only_problem("model:\n  attention: {type: softmax, window: 8}\n")
            .find("'model.attention.window' has no effect here: it applies to linear and performer attention only") !=
        std::string::npos);
  const std::string mt = "task: translation\ndata: {synthetic: {task: copy}}\nmodel:\n  heads: 4\n";
  CHECK(only_problem(mt + "  attention: {type: linear, window: 8}\n")
            .find("applies to causal self-attention only; in a translation model give it in "
                  "model.decoder_attention") != std::string::npos);
  CHECK(only_problem(mt + "  attention: {type: softmax}\n  encoder_attention: {type: linear, window: 8}\n")
            .find("'model.encoder_attention.window': the window holds the keys just before each query") !=
        std::string::npos);
  const Experiment d = parse_experiment(
      mt + "  attention: {type: softmax}\n  decoder_attention: {type: linear, window: 8}\n", "exp.yaml");
  CHECK(d.model.decoder_attention.window == 8);
}

TEST_CASE(
    "config: model.attention.decay is a list of numbers above 0 and at most 1, one or one per head, self-attention "
    "only") {
  const std::string lm = "model:\n  heads: 4\n  attention: {type: linear, ";
  Experiment e = parse_experiment(lm + "decay: [0.75, 0.9375, 0.99, 1]}\n", "exp.yaml");
  CHECK(e.model.attention.decay == std::vector<double>{0.75, 0.9375, 0.99, 1.0});
  CHECK(describe_attention(e) == "linear (elu, decay)");
  const std::string yaml = to_yaml(e);
  CHECK(yaml.find("decay: [0.75, 0.9375, 0.99, 1.0]") != std::string::npos);
  CHECK(differing_keys(e, parse_experiment(yaml, "resolved.yaml")).empty());
  CHECK(parse_experiment(lm + "decay: 0.9}\n", "exp.yaml").model.attention.decay == std::vector<double>{0.9});
  CHECK(to_yaml(default_experiment()).find("  decay:") == std::string::npos);  // none given: left out

  CHECK(only_problem(lm + "decay: [0.5, 1.5, 0.9, 1]}\n")
            .find("'model.attention.decay' must be a list of numbers each in (0.0, 1.0], got 1.5 (item 2)") !=
        std::string::npos);
  CHECK(only_problem(lm + "decay: [0.5, fast]}\n")
            .find("'model.attention.decay' expects a list of numbers, got 'fast' in it") != std::string::npos);
  CHECK(only_problem(lm + "decay: [0.5, 0.9]}\n")
            .find("'model.attention.decay' gives 2 decays for model.heads = 4: one for every head, or one per head") !=
        std::string::npos);
  CHECK(only_problem("model:\n  attention: {type: softmax, decay: 0.9}\n")
            .find("'model.attention.decay' has no effect here: it applies to linear and performer attention only") !=
        std::string::npos);
  const std::string mt = "task: translation\ndata: {synthetic: {task: copy}}\nmodel:\n  heads: 4\n";
  CHECK(only_problem(mt + "  attention: {type: linear, decay: 0.9}\n")
            .find("applies to self-attention only; in a translation model give it in model.encoder_attention or "
                  "model.decoder_attention") != std::string::npos);
  CHECK(only_problem(mt + "  attention: {type: linear}\n  cross_attention: {type: linear, decay: 0.9}\n")
            .find("'model.cross_attention.decay': decay weighs keys by their distance from the query") !=
        std::string::npos);
  e = parse_experiment(mt + "  attention: {type: softmax}\n  decoder_attention: {type: linear, decay: 0.9}\n",
                       "exp.yaml");
  CHECK(e.model.decoder_attention.decay == std::vector<double>{0.9});
  CHECK(describe_attention(e) == "softmax encoder, linear (elu, decay) decoder / softmax cross");
  e = parse_experiment(mt +
                           "  attention: {type: linear}\n  encoder_attention: {type: linear, decay: [0.5, 0.9, 1, 1]}\n"
                           "  cross_attention: {type: softmax}\n",
                       "exp.yaml");
  CHECK(e.model.encoder_attention.decay == std::vector<double>{0.5, 0.9, 1.0, 1.0});
  CHECK(describe_attention(e) == "linear (elu, decay) encoder, linear (elu) decoder / softmax cross");
}
