//! The `switchyard` binary: argument parsing and wiring. Everything it runs lives in the
//! library; this is the one place `anyhow` is used.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use switchyard::cli::plugin_check::{self, CheckOptions};
use switchyard::cli::plugin_dev;
use switchyard::plugin::{Limits, PluginKind};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Returns freed memory to the OS at once rather than after mimalloc's default 10 ms delay.
///
/// Why: mimalloc purges a thread's freed pages only when that thread next allocates. The
/// threads that compile a plugin (wasmtime's parallel compilation) go idle when compiling
/// ends, so with the delay their hundreds of megabytes of scratch stayed resident until the
/// next deploy (`bench/memory.sh`: a cold start held 955 MiB, 612 MiB with this). Serving
/// reuses its pages, so purging on free costs requests nothing measurable. An operator's
/// `MIMALLOC_PURGE_DELAY` still wins.
fn purge_freed_memory_at_once() {
    // mimalloc 3's `mi_option_purge_delay` (mimalloc.h); the binding's constant needs the
    // crate's `extended` feature, the function is in the static library either way.
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option of the allocator this binary links; mimalloc
        // reads options atomically and allows setting them at any time.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}

#[derive(Parser)]
#[command(name = "switchyard", version, about = "An OpenAI-compatible LLM router with WebAssembly routing plugins")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log line format on stderr: `text` (coloured only when stderr is a terminal) or `json`
    /// (one object per line, for log shippers). Default: `serve` takes the config's
    /// `telemetry.log_format`, everything else `text`.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the OpenAI-compatible API with the routes of a config file.
    Serve {
        /// The TOML configuration.
        #[arg(long, short, default_value = "switchyard.toml")]
        config: PathBuf,
        /// Listen here instead of the config's `listen`.
        #[arg(long)]
        listen: Option<String>,
        /// Do not reload when the config or a plugin file changes (the admin API still can).
        #[arg(long)]
        no_watch: bool,
        /// Quiet time after the last change to a watched file before reloading, in ms. A
        /// partial file that fails validation is simply retried on the next change.
        #[arg(long, default_value_t = switchyard::reload::watch::DEFAULT_SETTLE.as_millis() as u64)]
        settle_ms: u64,
    },
    /// Serve the offline upstream simulator (sim-small, sim-large and fault models) for demos
    /// and tests: OpenAI-compatible, deterministic, no network.
    Simulate {
        #[arg(long, default_value = "127.0.0.1:9001")]
        listen: String,
        /// Multiplies simulated latencies (0 answers at once).
        #[arg(long, default_value_t = 1.0)]
        latency_scale: f64,
    },
    /// Replay a route's plugins over labelled data, offline, and report the cost–quality
    /// curve (APGR, CPT) against random routing, the oracle and each model alone.
    Eval(EvalArgs),
    /// Fit a learned router (pre-route or gate) from labelled data and write the model file
    /// the `learned` plugins run, with cross-validated APGR / CPT and 95 % intervals.
    Train(TrainArgs),
    /// Work with plugin components.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Compile one component for a parent `switchyard` process (its request as JSON, the wasm
    /// on stdin) and exit; see host/src/plugin/compile.rs.
    #[command(name = "compile-worker", hide = true)]
    CompileWorker {
        #[arg(long)]
        request: String,
    },
}

#[derive(clap::Args)]
struct EvalArgs {
    /// The TOML configuration whose route is evaluated.
    #[arg(long, short, default_value = "switchyard.toml")]
    config: PathBuf,
    /// The route alias to evaluate.
    #[arg(long, default_value = "auto")]
    route: String,
    /// Data: .jsonl files (format in EVAL.md), RouteLLM .csv files, or directories of them.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Which data model answers for which config model: CONFIG=DATA pairs, comma-separated;
    /// DATA may be `weak` or `strong` (the data's weakest / strongest model). Default: same
    /// names, else by rank (tier order against mean score).
    #[arg(long, value_name = "PAIRS")]
    model_map: Vec<String>,
    /// The knob to sweep: PLUGIN.KEY=START:END:STEP or PLUGIN.KEY=V1,V2,... (the plugin is
    /// re-loaded with each value).
    #[arg(long, value_name = "PLUGIN.KEY=VALUES")]
    sweep: Option<String>,
    /// Share of the data to hold out (by prompt hash) and report apart, e.g. 0.3.
    #[arg(long, default_value_t = 0.0)]
    holdout: f64,
    /// Keep prompts listed in a contaminated_prompts.jsonl next to the data.
    #[arg(long)]
    keep_contaminated: bool,
    /// Output tokens assumed for cost when the data gives neither answer text nor a count.
    #[arg(long, default_value_t = 256)]
    output_tokens: u32,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Keep the configured per-call deadlines (by default eval stretches them to 1 s, so that
    /// a busy machine cannot change the results).
    #[arg(long)]
    strict_deadlines: bool,
    /// Drop the items a learned model on the route was trained on (eval warns about them
    /// otherwise).
    #[arg(long)]
    exclude_trained: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the curves as an SVG plot to this file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Data: .jsonl files (eval's format), RouteLLM .csv files, or directories of them.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// `pre-route` (prompt features only, for a policy's start tier) or `gate` (prompt and
    /// the cheap model's answer, for a cascade's escalation decision).
    #[arg(long, value_parser = parse_kind)]
    kind: switchyard_features::vector::Kind,
    /// Where to write the model file (JSON).
    #[arg(long, short)]
    output: PathBuf,
    /// The data's cheap model (default: the lowest mean score).
    #[arg(long)]
    weak: Option<String>,
    /// The data's strong model (default: the highest mean score).
    #[arg(long)]
    strong: Option<String>,
    /// What the model predicts: `strong-better` (the strong model scores higher) or
    /// `weak-wrong` (the weak model scores below --good).
    #[arg(long, value_enum, default_value = "strong-better")]
    label: switchyard::train::Label,
    /// With --label weak-wrong: the score an answer needs to be good enough.
    #[arg(long, default_value_t = 1.0)]
    good: f64,
    /// Share of the data (by prompt hash, as `eval --holdout` splits it) left out of training.
    #[arg(long, default_value_t = 0.0)]
    holdout: f64,
    /// Keep prompts listed in a contaminated_prompts.jsonl next to the data.
    #[arg(long)]
    keep_contaminated: bool,
    /// L2 penalties to try, comma-separated; with several, cross-validated APGR picks one.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    alpha: Vec<f64>,
    /// Hashed n-gram buckets kept at most (the most frequent in training).
    #[arg(long, default_value_t = 4000)]
    max_hashed: usize,
    /// A bucket must occur in at least this many training items.
    #[arg(long, default_value_t = 3)]
    min_df: usize,
    /// Word n-gram lengths MIN-MAX (0-0 for none).
    #[arg(long, default_value = "1-2", value_parser = parse_range)]
    word_ngrams: [u8; 2],
    /// Character n-gram lengths MIN-MAX in bytes (0-0 for none).
    #[arg(long, default_value = "3-5", value_parser = parse_range)]
    char_ngrams: [u8; 2],
    /// Gates: leave the answer's n-grams out (its named checks are always read).
    #[arg(long)]
    no_answer_ngrams: bool,
    /// Cross-validation folds (split by prompt hash).
    #[arg(long, default_value_t = 5)]
    folds: u32,
    /// Bootstrap resamples for the 95 % intervals.
    #[arg(long, default_value_t = 1000)]
    resamples: u32,
    /// Print the model's training record as JSON instead of the table.
    #[arg(long)]
    json: bool,
}

fn parse_kind(text: &str) -> Result<switchyard_features::vector::Kind, String> {
    match text {
        "pre-route" => Ok(switchyard_features::vector::Kind::PreRoute),
        "gate" => Ok(switchyard_features::vector::Kind::Gate),
        other => Err(format!("expected `pre-route` or `gate`, got `{other}`")),
    }
}

fn parse_range(text: &str) -> Result<[u8; 2], String> {
    let (lo, hi) = text.split_once('-').ok_or_else(|| format!("expected MIN-MAX, got `{text}`"))?;
    let parse = |s: &str| s.trim().parse::<u8>().map_err(|_| format!("expected MIN-MAX numbers, got `{text}`"));
    Ok([parse(lo)?, parse(hi)?])
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Load a plugin as the proxy would, run it on sample requests, print outputs and timings.
    Check {
        /// The component file (.wasm).
        file: PathBuf,
        /// The world to check against (classifier, policy, gate); detected when omitted.
        #[arg(long)]
        kind: Option<PluginKind>,
        /// The plugin's configuration as a JSON object.
        #[arg(long, default_value = "{}")]
        config: String,
        /// Per-call deadline in milliseconds.
        #[arg(long, default_value_t = 10)]
        deadline_ms: u64,
        /// Memory cap per instance in MiB.
        #[arg(long, default_value_t = 64)]
        memory_mb: u64,
        /// Calls timed per instance strategy.
        #[arg(long, default_value_t = 1000)]
        iterations: usize,
        /// Keep compiled artifacts here between runs.
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// Set config key KEY to the text of FILE, as `files = { KEY = "FILE" }` does in the
        /// TOML (e.g. `--file model=router.json`). Repeatable.
        #[arg(long = "file", value_name = "KEY=FILE")]
        files: Vec<String>,
        /// Time the calls on this prompt (a text file) instead of the sample requests.
        #[arg(long, value_name = "FILE")]
        prompt: Option<PathBuf>,
        /// With --prompt, for gates: the answer to judge (a text file).
        #[arg(long, value_name = "FILE", requires = "prompt")]
        answer: Option<PathBuf>,
        /// Measure the baseline (Winch) code a never-seen version serves on until its
        /// optimized code is ready, instead of the optimized code.
        #[arg(long, conflicts_with = "cache_dir")]
        baseline: bool,
    },
    /// Scaffold a plugin project (Rust, Python or JavaScript) that builds and tests as is.
    New(plugin_dev::NewArgs),
    /// Build a plugin project into a component (cargo, componentize-py or componentize-js).
    Build {
        /// The project directory (with switchyard-plugin.toml).
        dir: Option<PathBuf>,
        #[command(flatten)]
        args: plugin_dev::BuildArgs,
    },
    /// Run a plugin over fixture requests: answers, unmet expectations, timing percentiles.
    Test(plugin_dev::TestArgs),
    /// Make an ECDSA P-256 signing key pair (PREFIX.key, PREFIX.pub) for `plugin sign`.
    Keygen {
        /// Path prefix of the two files.
        prefix: PathBuf,
    },
    /// Pack a component into a package (an OCI image layout directory) with its manifest.
    Pack(PackArgs),
    /// Sign a packed package (cosign simple-signing, ECDSA P-256).
    Sign {
        /// The package directory (`plugin pack`'s output).
        dir: PathBuf,
        /// The private key (PEM: PKCS#8, or SEC1 from `openssl ecparam`).
        #[arg(long)]
        key: PathBuf,
        /// The repository the signature names (cosign's docker-reference); default: the
        /// package name.
        #[arg(long)]
        identity: Option<String>,
        /// Leave the key id out of the signature (verifiers then try every trusted key).
        #[arg(long)]
        no_key_id: bool,
    },
    /// Verify a package's signature, manifest and component against keys or a config's [trust].
    Verify {
        /// `oci://HOST/REPO:TAG` or a package directory.
        package: String,
        /// A trusted public key (PEM); repeatable. Or use --config.
        #[arg(long)]
        key: Vec<PathBuf>,
        /// Verify against this config's [trust] instead.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Push a package directory (and its signatures) to a registry.
    Push {
        dir: PathBuf,
        /// `oci://HOST/REPO:TAG`.
        reference: String,
    },
    /// Pull a package (and its signatures) from a registry into a directory.
    Pull {
        /// `oci://HOST/REPO:TAG` or `oci://HOST/REPO@sha256:…`.
        reference: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Show a package's manifest, signatures, and the limits it asks for; with --config, what
    /// that config's trust policy would grant it.
    Inspect {
        /// `oci://HOST/REPO:TAG` or a package directory.
        package: String,
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The plugin in --config whose limits the grant starts from.
        #[arg(long)]
        plugin: Option<String>,
    },
}

#[derive(clap::Args)]
struct PackArgs {
    /// The component (.wasm).
    component: PathBuf,
    /// The package name, `publisher/plugin`.
    #[arg(long)]
    name: String,
    /// Its semver version.
    #[arg(long)]
    version: String,
    /// The world; detected from the exports when omitted.
    #[arg(long)]
    kind: Option<PluginKind>,
    #[arg(long, default_value = "")]
    description: String,
    #[arg(long, default_value = "")]
    license: String,
    /// Where its source lives.
    #[arg(long, default_value = "")]
    source_url: String,
    /// A JSON Schema file for its config.
    #[arg(long)]
    config_schema: Option<PathBuf>,
    /// Limits it asks for.
    #[arg(long)]
    memory_mb: Option<u64>,
    #[arg(long)]
    deadline_ms: Option<u64>,
    #[arg(long)]
    fuel: Option<u64>,
    /// The package directory to write.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    purge_freed_memory_at_once();
    let cli = Cli::parse();
    // Large components compile in a child process of this same binary, so the compiler's
    // memory leaves with it ([runtime] compile_worker).
    match std::env::current_exe() {
        Ok(exe) => switchyard::plugin::enable_compile_worker(exe),
        Err(error) => tracing::debug!("components compile in this process: {error}"),
    }
    // `serve` reads its default format from the config it loads; the rest start logging now.
    let serving = matches!(cli.command, Command::Serve { .. });
    if !serving || cli.log_format.is_some() {
        init_tracing(cli.log_format.unwrap_or(LogFormatArg::Text));
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", message(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, joined by ": ", skipping a cause whose text the message already
/// holds (most error types here name their source in their own message; `{:#}` would print it
/// twice: "cannot read x: No such file: No such file").
fn message(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config, listen, no_watch, settle_ms } => {
            let watch = (!no_watch).then_some(Duration::from_millis(settle_ms));
            runtime()?.block_on(serve(config, listen, watch))
        }
        Command::Simulate { listen, latency_scale } => runtime()?.block_on(async move {
            let listener =
                tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            tracing::info!(address = %listener.local_addr()?, "upstream simulator serving sim-small and sim-large");
            switchyard::sim::serve(listener, switchyard::sim::SimOptions { latency_scale }).await?;
            Ok(())
        }),
        Command::Eval(args) => eval(args),
        Command::Train(args) => train(args),
        Command::Plugin {
            command:
                PluginCommand::Check {
                    file,
                    kind,
                    config,
                    deadline_ms,
                    memory_mb,
                    iterations,
                    cache_dir,
                    baseline,
                    files,
                    prompt,
                    answer,
                },
        } => {
            let mut config: serde_json::Value =
                serde_json::from_str(&config).context("--config must be a JSON object")?;
            anyhow::ensure!(config.is_object(), "--config must be a JSON object, got {config}");
            for pair in files {
                let (key, path) = pair.split_once('=').with_context(|| format!("--file {pair}: expected KEY=FILE"))?;
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("--file {pair}: cannot read {path}"))?;
                config[key] = serde_json::Value::String(text);
            }
            let read = |path: &PathBuf| {
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
            };
            let prompt = match &prompt {
                Some(p) => Some((read(p)?, answer.as_ref().map(read).transpose()?)),
                None => None,
            };
            let report = plugin_check::run(&CheckOptions {
                path: file,
                kind,
                config,
                limits: Limits {
                    deadline: Duration::from_millis(deadline_ms),
                    memory_bytes: memory_mb << 20,
                    fuel: None,
                },
                iterations,
                cache_dir,
                baseline,
                prompt,
            })?;
            print!("{report}");
            Ok(())
        }
        Command::Plugin { command: PluginCommand::New(args) } => Ok(plugin_dev::new(&args)?),
        Command::Plugin { command: PluginCommand::Build { dir, args } } => Ok(plugin_dev::build(dir, &args)?),
        Command::Plugin { command: PluginCommand::Test(args) } => Ok(plugin_dev::test(&args)?),
        Command::Plugin { command } => runtime()?.block_on(package_command(command)),
        Command::CompileWorker { request } => std::process::exit(switchyard::plugin::compile::worker_main(&request)),
    }
}

async fn package_command(command: PluginCommand) -> anyhow::Result<()> {
    use switchyard::cli::package::{self as pkg, Location};
    let load = |path: &Option<PathBuf>| path.as_deref().map(switchyard::config::Config::load).transpose();
    match command {
        PluginCommand::Keygen { prefix } => {
            let (key, public, id) = pkg::keygen(&prefix)?;
            println!("private key {}\npublic key  {}\nkey id      {id}", key.display(), public.display());
        }
        PluginCommand::Pack(a) => {
            let options = pkg::PackOptions {
                name: a.name,
                version: a.version,
                kind: a.kind,
                description: a.description,
                license: a.license,
                source_url: a.source_url,
                config_schema: a.config_schema,
                limits: switchyard::config::PackageLimits {
                    memory_mb: a.memory_mb,
                    deadline_ms: a.deadline_ms,
                    fuel: a.fuel,
                },
            };
            let digest = pkg::pack(&a.component, &options, &a.out)?;
            println!("{} {digest}", a.out.display());
        }
        PluginCommand::Sign { dir, key, identity, no_key_id } => {
            let identity = match identity {
                Some(identity) => identity,
                None => package_name(&dir)?,
            };
            let id = pkg::sign(&dir, &key, &identity, !no_key_id)?;
            println!("signed {} with key {id}", dir.display());
        }
        PluginCommand::Verify { package, key, config } => {
            let config = load(&config)?;
            anyhow::ensure!(config.is_some() || !key.is_empty(), "give the trusted keys: --key FILE or --config FILE");
            let (trust, limits) = pkg::trust_from(config.as_ref(), &key)?;
            let location = Location::parse(&package)?;
            let verified = pkg::verify(&location, &trust, &limits, &pkg::cli_cache(config.as_ref())).await?;
            println!(
                "verified {} {} ({}) signed by {} (key {})",
                verified.manifest.name,
                verified.manifest.version,
                verified.digest,
                verified.publisher.name,
                verified.publisher.key_id
            );
        }
        PluginCommand::Push { dir, reference } => {
            let Location::Registry(reference) = Location::parse(&reference)? else {
                anyhow::bail!("push: expected oci://HOST/REPO:TAG, got {reference}");
            };
            let digest = pkg::push(&dir, &reference).await?;
            println!("pushed {}@{digest}", reference.whole());
        }
        PluginCommand::Pull { reference, out } => {
            let Location::Registry(reference) = Location::parse(&reference)? else {
                anyhow::bail!("pull: expected oci://HOST/REPO:TAG, got {reference}");
            };
            let digest = pkg::pull(&reference, &out).await?;
            println!("{} {digest}", out.display());
        }
        PluginCommand::Inspect { package, config, plugin } => {
            let config = load(&config)?;
            let location = Location::parse(&package)?;
            let report =
                pkg::inspect(&location, config.as_ref(), plugin.as_deref(), &pkg::cli_cache(config.as_ref())).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        _ => unreachable!("the other plugin commands are not package commands"),
    }
    Ok(())
}

/// The name in a package directory's manifest (the default signing identity).
fn package_name(dir: &std::path::Path) -> anyhow::Result<String> {
    let layout = switchyard::package::store::Layout::existing(dir)?;
    let digest = layout.resolve(switchyard::cli::package::PACK_TAG).context("the directory holds no package")?;
    let manifest = layout.get(&digest, 1 << 16).context("the package manifest is missing")?;
    let parts = switchyard::package::layout::parts(&manifest).map_err(anyhow::Error::msg)?;
    let bytes = layout.get(&parts.manifest.digest, 1 << 16).context("the Switchyard manifest is missing")?;
    Ok(switchyard::package::PackageManifest::parse(&bytes).map_err(anyhow::Error::msg)?.name)
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let percent = args.holdout * 100.0;
    anyhow::ensure!(
        (0.0..100.0).contains(&percent) && (percent - percent.round()).abs() < 1e-9,
        "--holdout: expected a share from 0 to 0.99 in whole percent (e.g. 0.3), got {}",
        args.holdout
    );
    let mut options = switchyard::eval::EvalOptions::new(args.config, args.route, args.data);
    options.model_map = args.model_map;
    options.sweep = args.sweep;
    options.holdout_percent = percent.round() as u32;
    options.keep_contaminated = args.keep_contaminated;
    options.threads = args.threads;
    options.replay.default_output_tokens = args.output_tokens;
    options.progress = true;
    options.strict_deadlines = args.strict_deadlines;
    options.exclude_trained = args.exclude_trained;
    let report = switchyard::eval::run(&options)?;
    if let Some(path) = &args.svg {
        std::fs::write(path, switchyard::eval::svg::render(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", switchyard::eval::table::render(&report));
        if let Some(path) = &args.svg {
            println!("plot     {}", path.display());
        }
    }
    Ok(())
}

fn train(args: TrainArgs) -> anyhow::Result<()> {
    let percent = args.holdout * 100.0;
    anyhow::ensure!(
        (0.0..100.0).contains(&percent) && (percent - percent.round()).abs() < 1e-9,
        "--holdout: expected a share from 0 to 0.99 in whole percent (e.g. 0.3), got {}",
        args.holdout
    );
    let mut options = switchyard::train::TrainOptions::new(args.data, args.kind);
    options.weak = args.weak;
    options.strong = args.strong;
    options.label = args.label;
    options.good = args.good;
    options.holdout_percent = percent.round() as u32;
    options.keep_contaminated = args.keep_contaminated;
    options.alphas = args.alpha;
    options.max_hashed = args.max_hashed;
    options.min_df = args.min_df;
    options.features.word_ngrams = args.word_ngrams;
    options.features.char_ngrams = args.char_ngrams;
    options.features.answer_ngrams = !args.no_answer_ngrams;
    options.folds = args.folds;
    options.resamples = args.resamples;
    let trained = switchyard::train::run(&options)?;
    let bytes = switchyard::train::model::write(&trained.model, &args.output)?;
    if args.json {
        let mut record = trained.model.training.clone();
        record.item_hashes.clear();
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        let path = args.output.display().to_string();
        print!("{}", switchyard::train::report::render(&trained, Some((&path, bytes))));
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// Serves until SIGINT/SIGTERM; `watch` is the settle delay when files are watched.
async fn serve(config_path: PathBuf, listen: Option<String>, watch: Option<Duration>) -> anyhow::Result<()> {
    let config = switchyard::config::Config::load(&config_path);
    // Logging starts here for `serve` without `--log-format` (a no-op if it already has).
    let configured = match config.as_ref().map(|c| c.telemetry.log_format) {
        Ok(switchyard::config::LogFormat::Json) => LogFormatArg::Json,
        _ => LogFormatArg::Text,
    };
    init_tracing(configured);
    let config = config?;
    let addr = match listen {
        Some(addr) => addr.parse().with_context(|| format!("--listen {addr}: expected HOST:PORT"))?,
        None => config.listen_addr,
    };
    let started = std::time::Instant::now();
    let app = switchyard::app::App::start(config).await?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let snapshot = app.snapshot();
    tracing::info!(
        address = %listener.local_addr()?,
        routes = snapshot.routes.len(),
        models = snapshot.models.len(),
        plugins = snapshot.plugins.len(),
        "switchyard is serving (loaded in {:.0} ms)",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let _watch = match watch {
        Some(settle) => Some(switchyard::reload::watch::spawn(app.clone(), settle)?),
        None => None,
    };
    // Registry tags with a `poll_interval_ms` (idle when there are none).
    let _poll = switchyard::reload::poll::spawn(app.clone());
    let shutdown = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing requests in flight");
    };
    switchyard::server::serve(listener, app, shutdown, Duration::from_secs(30)).await?;
    Ok(())
}

/// Logs to stderr, filtered by `SWITCHYARD_LOG` (default `info`). Colour codes only when
/// stderr is a terminal: in a file or a log pipeline they are noise. A second call is a no-op.
fn init_tracing(format: LogFormatArg) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormatArg::Json => builder.json().with_current_span(false).try_init(),
        LogFormatArg::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
}
