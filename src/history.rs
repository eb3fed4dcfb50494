//! `stateless history`: prove a past header, blob, transaction or account value against a later
//! header (`prove`, a prover verb: it opens the prover's database); prove the validity of the
//! `zk-transfer` state from one checkpoint to another from a chain directory's files (`span`);
//! and check either proof with that header alone (`verify`, which opens nothing else).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use prover::{FactQuery, ProverState};
use prover::{SpanBuildError, SpanBuilder};
use serde::Serialize;
use verifier::ChainParams;
use verifier::{ProvenFact, verify_history_proof};
use verifier::{ProvenSpan, verify_aggregate_span, verify_span};
use witness_format::frame::read_frame;
use witness_format::{
    AggregateSpanProof, Block, FileKind, Genesis, Hash32, Header, HistoryProof, Model, SpanProof,
    decode_file, encode_file,
};

use crate::Failure;
use prover::files::{block_path, genesis_path, read_any_file, read_value, write_atomic};
use prover::verify_dir::load_verifying_keys;
use prover::zk::aggregate::read_srs;

/// Arguments of `stateless history`.
#[derive(Args)]
pub(crate) struct HistoryArgs {
    #[command(subcommand)]
    command: HistoryCommand,
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Prove a fact about the chain's past against a later block's header (the tip).
    Prove(ProveArgs),
    /// Prove, from a chain directory, that the zk-transfer state of block B follows from
    /// checkpoint A's: the zk proofs of every zk-transfer blob after A up to B, with their
    /// public data, checkable against the tip's header alone.
    Span(SpanArgs),
    /// Check a history or span proof against the tip's block file, with no other data.
    Verify(VerifyArgs),
}

/// Arguments of `stateless history span`.
#[derive(Args)]
struct SpanArgs {
    /// Chain directory (genesis, blocks, and the verifying keys in keys/).
    #[arg(long)]
    chain: PathBuf,
    /// Checkpoint A: a height (0: the genesis); its own blobs are not in the span.
    #[arg(long)]
    from: u64,
    /// Checkpoint B: a block height at least 1 and at least A; its blobs are in the span.
    #[arg(long)]
    to: u64,
    /// Height of the block whose header the span is checked against (default: B).
    #[arg(long)]
    tip: Option<u64>,
    /// Where to write the span file.
    #[arg(long)]
    out: PathBuf,
    /// Write one aggregate proof of the span's zk proofs instead of the proofs themselves
    /// (every zk-transfer blob of the span must be proven; needs --srs).
    #[arg(long, requires = "srs")]
    aggregate: bool,
    /// The aggregation SRS (`stateless zk srs`), pinned in the chain's genesis.
    #[arg(long)]
    srs: Option<PathBuf>,
}

/// Arguments of `stateless history prove`.
#[derive(Args)]
struct ProveArgs {
    /// Prover database (opened exclusively; it must exist).
    #[arg(long)]
    db: PathBuf,
    /// Chain directory the database exported; its genesis must be the database's.
    #[arg(long)]
    chain: PathBuf,
    /// The fact: `header:I` (I = 0: the genesis), `blob:I:J`, `tx:I:J:K` (block I, blob J,
    /// transaction K), or `account:MODEL:A` (account A of MODEL at the height given by `--at`).
    #[arg(long)]
    fact: String,
    /// Height of an account fact (0: the genesis state); only for `account:…`.
    #[arg(long)]
    at: Option<u64>,
    /// Height of the block whose header the proof is checked against; facts may be at this
    /// height or below.
    #[arg(long)]
    tip: u64,
    /// Where to write the proof file.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `stateless history verify`.
#[derive(Args)]
struct VerifyArgs {
    /// The proof file.
    file: PathBuf,
    /// The trusted tip: a block file (`CHAIN/blocks/T.bin`); only its header is used.
    #[arg(long)]
    tip: PathBuf,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// `stateless history`.
pub(crate) fn history(args: HistoryArgs) -> Result<(), Failure> {
    match args.command {
        HistoryCommand::Prove(args) => prove(args),
        HistoryCommand::Span(args) => span(args),
        HistoryCommand::Verify(args) => verify(args),
    }
}

fn usage(message: String) -> Failure {
    Failure::Error(anyhow::anyhow!(message))
}

/// Parses `--fact` (with `--at`) into a query.
fn parse_fact(fact: &str, at: Option<u64>) -> Result<FactQuery, Failure> {
    let parts: Vec<&str> = fact.split(':').collect();
    let number = |text: &str, what: &str| {
        text.parse::<u64>()
            .map_err(|_| usage(format!("--fact {fact}: {what} `{text}` is not a number")))
    };
    let no_at = |query: FactQuery| match at {
        Some(_) => Err(usage(format!(
            "--at is for account facts; the height of `{fact}` is in the fact"
        ))),
        None => Ok(query),
    };
    match parts.as_slice() {
        ["header", height] => no_at(FactQuery::Header {
            height: number(height, "height")?,
        }),
        ["blob", height, blob] => no_at(FactQuery::Blob {
            height: number(height, "height")?,
            blob: number(blob, "blob index")?,
        }),
        ["tx", height, blob, transaction] => no_at(FactQuery::Transaction {
            height: number(height, "height")?,
            blob: number(blob, "blob index")?,
            transaction: number(transaction, "transaction index")?,
        }),
        ["account", model, account] => {
            let model: Model = serde_json::from_value(serde_json::Value::from(*model))
                .map_err(|_| usage(format!("--fact {fact}: unknown model `{model}`")))?;
            let height = at.ok_or_else(|| usage("account facts need --at HEIGHT".into()))?;
            Ok(FactQuery::Account {
                height,
                model,
                account: number(account, "account")?,
            })
        }
        _ => Err(usage(format!(
            "--fact {fact}: expected header:I, blob:I:J, tx:I:J:K or account:MODEL:A"
        ))),
    }
}

/// `stateless history prove`.
fn prove(args: ProveArgs) -> Result<(), Failure> {
    let query = parse_fact(&args.fact, args.at)?;
    let genesis_file = genesis_path(&args.chain);
    let genesis: Genesis = read_value(&genesis_file)?
        .map_err(|e| Failure::Rejected(format!("{}: {e}", genesis_file.display())))?;
    let state = ProverState::open_existing(&args.db)
        .with_context(|| format!("opening prover database {}", args.db.display()))?;
    if state.genesis() != &genesis {
        return Err(usage(format!(
            "{} holds another chain than {}",
            args.db.display(),
            genesis_file.display()
        )));
    }
    let proof = state
        .history_proof(args.tip, query)
        .with_context(|| format!("proving {} against block {}", args.fact, args.tip))?;
    let bytes = encode_file(&proof);
    write_atomic(&args.out, &bytes)?;
    eprintln!(
        "wrote a {}-byte proof of {} against block {} to {}",
        bytes.len(),
        args.fact,
        args.tip,
        args.out.display()
    );
    Ok(())
}

/// The result of checking a proof, as printed.
#[derive(Serialize)]
struct VerifyReport {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tip_height: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tip_hash: Option<Hash32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fact: Option<ProvenFact>,
}

/// A proven fact in one line, for people.
fn summary(fact: &ProvenFact) -> String {
    match fact {
        ProvenFact::Genesis { hash, genesis } => {
            format!("genesis {hash} of chain {}", genesis.chain_id)
        }
        ProvenFact::Header { hash, header } => format!("header {} is {hash}", header.height),
        ProvenFact::Blob {
            height,
            index,
            commitment,
            model,
            ..
        } => format!("block {height}, blob {index} ({model}) commits to {commitment}"),
        ProvenFact::Transaction {
            height,
            blob,
            index,
            transaction,
            ..
        } => format!(
            "block {height}, blob {blob}, transaction {index}: {} -> {}, amount {}, nonce {}",
            transaction.from, transaction.to, transaction.amount, transaction.nonce
        ),
        ProvenFact::Account {
            height,
            model,
            account,
            leaf,
            ..
        } => format!(
            "{model} account {account} at height {height}: balance {}, nonce {}, key {}",
            leaf.balance, leaf.nonce, leaf.public_key
        ),
        ProvenFact::EvmChannel {
            height,
            model,
            account,
            sent,
            ..
        } => format!(
            "the evm bridge at height {height} has sent {sent} to {model} account {account}"
        ),
    }
}

/// `stateless history verify`: a span file or a history proof, by the file's kind.
fn verify(args: VerifyArgs) -> Result<(), Failure> {
    let tip: Block = read_value(&args.tip)?
        .map_err(|e| Failure::Rejected(format!("{}: {e}", args.tip.display())))?;
    let bytes = read_any_file(&args.file)?
        .map_err(|e| Failure::Rejected(format!("{}: {e}", args.file.display())))?;
    match read_frame(&bytes) {
        Ok((FileKind::SpanProof, _)) => return verify_span_file(&args, &bytes, &tip.header),
        Ok((FileKind::AggregateSpanProof, _)) => {
            return verify_aggregate_span_file(&args, &bytes, &tip.header);
        }
        _ => {}
    }
    let outcome = decode_file::<HistoryProof>(&bytes)
        .map_err(|e| format!("{}: {e}", args.file.display()))
        .and_then(|proof| verify_history_proof(&proof, &tip.header).map_err(|e| e.to_string()));
    let tip_hash = verifier::hash::header_hash(&tip.header);
    let report = match outcome {
        Ok(fact) => VerifyReport {
            valid: true,
            error: None,
            tip_height: Some(tip.header.height),
            tip_hash: Some(tip_hash),
            fact: Some(fact),
        },
        Err(error) => VerifyReport {
            valid: false,
            error: Some(error),
            tip_height: Some(tip.header.height),
            tip_hash: Some(tip_hash),
            fact: None,
        },
    };
    if args.json {
        outln!(
            "{}",
            serde_json::to_string(&report).context("encoding JSON")?
        );
    } else if let Some(fact) = &report.fact {
        outln!("valid: {}", summary(fact));
    }
    match report.error {
        Some(error) => Err(Failure::Rejected(error)),
        None => Ok(()),
    }
}

/// `stateless history span`.
///
/// Reads the genesis and blocks `1..=T` (T the tip) once, in height order, into a
/// [`SpanBuilder`]: each `zk-transfer` blob of blocks `A+1..=B` becomes a step (proven, or
/// executed when it has no proof). The span is checked with the verifier before it is written.
fn span(args: SpanArgs) -> Result<(), Failure> {
    let tip_height = args.tip.unwrap_or(args.to);
    let genesis_file = genesis_path(&args.chain);
    let genesis: Genesis = read_value(&genesis_file)?
        .map_err(|e| Failure::Rejected(format!("{}: {e}", genesis_file.display())))?;
    let build_failure = |e: SpanBuildError| {
        if e.is_rejection() {
            Failure::Rejected(e.to_string())
        } else {
            usage(e.to_string())
        }
    };
    let params = ChainParams::from_genesis(&genesis)
        .map_err(|e| Failure::Rejected(format!("genesis: {e}")))?;
    let mut builder =
        SpanBuilder::new(genesis, args.from, args.to, tip_height).map_err(build_failure)?;
    let mut tip = None;
    for height in 1..=tip_height {
        let file = block_path(&args.chain, height);
        let block: Block = read_value(&file)?
            .map_err(|e| Failure::Rejected(format!("{}: {e}", file.display())))?;
        if height == tip_height {
            tip = Some(block.header.clone());
        }
        builder.push(block).map_err(build_failure)?;
    }
    let keys = load_verifying_keys(&args.chain, None, &params)?.map_err(Failure::Rejected)?;
    let tip = tip.ok_or_else(|| usage("no tip was read".into()))?;
    if let (true, Some(srs)) = (args.aggregate, &args.srs) {
        let srs = read_srs(srs).map_err(|e| usage(e.to_string()))?;
        let span = builder
            .finish_aggregate(&keys, &srs)
            .map_err(build_failure)?;
        let proven = verify_aggregate_span(&span, &tip).map_err(|e| {
            Failure::Rejected(format!("the aggregate span built from the chain: {e}"))
        })?;
        let bytes = encode_file(&span);
        write_atomic(&args.out, &bytes)?;
        eprintln!(
            "wrote a {}-byte aggregate span ({}-byte aggregate) of {} proofs from height {} to \
             {} against block {} to {}",
            bytes.len(),
            span.aggregate.len(),
            proven.span.proofs,
            proven.span.from.height,
            proven.span.to.height,
            tip_height,
            args.out.display()
        );
        return Ok(());
    }
    let span = builder.finish(&keys).map_err(build_failure)?;
    let proven = verify_span(&span, &tip)
        .map_err(|e| Failure::Rejected(format!("the span built from the chain: {e}")))?;
    let bytes = encode_file(&span);
    write_atomic(&args.out, &bytes)?;
    eprintln!(
        "wrote a {}-byte span of {} proofs and {} executed blobs from height {} to {} against \
         block {} to {}",
        bytes.len(),
        proven.proofs,
        proven.executed,
        proven.from.height,
        proven.to.height,
        tip_height,
        args.out.display()
    );
    Ok(())
}

/// The result of checking a span, as printed.
#[derive(Serialize)]
struct SpanVerifyReport {
    valid: bool,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    tip_height: u64,
    tip_hash: Hash32,
    #[serde(skip_serializing_if = "Option::is_none")]
    span: Option<ProvenSpan>,
    /// Blocks the span covers (B's height less A's).
    #[serde(skip_serializing_if = "Option::is_none")]
    blocks: Option<u64>,
    /// An aggregate span's aggregate size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    aggregate_bytes: Option<usize>,
    /// An aggregate span's commitment to its blobs' transaction commitments (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_commitments: Option<String>,
}

impl SpanVerifyReport {
    /// The report of a span of `kind` checked against `tip`.
    fn new(kind: &'static str, tip: &Header, outcome: Result<ProvenSpan, String>) -> Self {
        let (span, error) = match outcome {
            Ok(span) => (Some(span), None),
            Err(error) => (None, Some(error)),
        };
        Self {
            valid: error.is_none(),
            kind,
            error,
            tip_height: tip.height,
            tip_hash: verifier::hash::header_hash(tip),
            blocks: span
                .as_ref()
                .map(|s| s.to.height.saturating_sub(s.from.height)),
            span,
            aggregate_bytes: None,
            transaction_commitments: None,
        }
    }

    /// Prints the report (JSON, or one line when valid) and turns a rejection into the exit
    /// code.
    fn print(self, json: bool) -> Result<(), Failure> {
        if json {
            outln!("{}", serde_json::to_string(&self).context("encoding JSON")?);
        } else if let Some(span) = &self.span {
            outln!(
                "valid: zk-transfer state of height {} ({}) follows from height {} ({}) by {} \
                 proofs and {} executed blobs of {} transactions{}",
                span.to.height,
                span.to.zk_root,
                span.from.height,
                span.from.zk_root,
                span.proofs,
                span.executed,
                span.transactions,
                if self.aggregate_bytes.is_some() {
                    ", in one aggregate"
                } else {
                    ""
                }
            );
        }
        match self.error {
            Some(error) => Err(Failure::Rejected(error)),
            None => Ok(()),
        }
    }
}

/// `stateless history verify` of an aggregate span file.
fn verify_aggregate_span_file(
    args: &VerifyArgs,
    bytes: &[u8],
    tip: &Header,
) -> Result<(), Failure> {
    let outcome = decode_file::<AggregateSpanProof>(bytes)
        .map_err(|e| format!("{}: {e}", args.file.display()))
        .and_then(|span| {
            verify_aggregate_span(&span, tip)
                .map(|proven| (proven, span.aggregate.len()))
                .map_err(|e| e.to_string())
        });
    let aggregate_bytes = outcome.as_ref().ok().map(|(_, bytes)| *bytes);
    let transaction_commitments = outcome
        .as_ref()
        .ok()
        .map(|(p, _)| hex::encode(&p.transaction_commitments));
    SpanVerifyReport {
        aggregate_bytes,
        transaction_commitments,
        ..SpanVerifyReport::new("aggregate-span", tip, outcome.map(|(p, _)| p.span))
    }
    .print(args.json)
}

/// `stateless history verify` of a span file.
fn verify_span_file(args: &VerifyArgs, bytes: &[u8], tip: &Header) -> Result<(), Failure> {
    let outcome = decode_file::<SpanProof>(bytes)
        .map_err(|e| format!("{}: {e}", args.file.display()))
        .and_then(|span| verify_span(&span, tip).map_err(|e| e.to_string()));
    SpanVerifyReport::new("span", tip, outcome).print(args.json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_parse() {
        assert_eq!(
            parse_fact("header:0", None).ok(),
            Some(FactQuery::Header { height: 0 })
        );
        assert_eq!(
            parse_fact("tx:3:1:7", None).ok(),
            Some(FactQuery::Transaction {
                height: 3,
                blob: 1,
                transaction: 7
            })
        );
        assert_eq!(
            parse_fact("account:transfer:5", Some(2)).ok(),
            Some(FactQuery::Account {
                height: 2,
                model: Model::Transfer,
                account: 5
            })
        );
        for (fact, at) in [
            ("header", None),
            ("header:x", None),
            ("header:1", Some(1)),
            ("blob:1", None),
            ("account:transfer:5", None),
            ("account:nope:5", Some(1)),
            ("block:1", None),
        ] {
            assert!(parse_fact(fact, at).is_err(), "{fact} {at:?}");
        }
    }
}
