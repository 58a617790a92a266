//! Text → vectors with all-MiniLM-L6-v2 on ONNX Runtime, from files on disk only.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use tokenizers::Tokenizer;

/// The name the store records, so that a store is never queried with another model's vectors.
/// The graph that computes in int8 gives vectors within a cosine of ~0.99 of the earlier
/// weight-only int8 graph ("all-MiniLM-L6-v2 (int8 onnx)"), close but not the same, so stores
/// filled by that one are re-ingested rather than mixed.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2 (dynamic int8 onnx)";
/// all-MiniLM-L6-v2 reads at most 256 word pieces; longer inputs are cut, so chunks stay under.
pub const MAX_INPUT_TOKENS: usize = 256;

/// Where the embedding model and the ONNX runtime live under the models directory.
#[derive(Debug, Clone)]
pub struct EmbedderFiles {
    pub onnx: PathBuf,
    pub tokenizer: PathBuf,
    pub config: PathBuf,
    pub special_tokens_map: PathBuf,
    pub tokenizer_config: PathBuf,
    pub runtime: PathBuf,
}

impl EmbedderFiles {
    pub fn in_models_dir(models: &Path) -> Self {
        let embed = models.join("embed");
        Self {
            // Not the downloaded model.onnx: that one stores int8 weights but multiplies in
            // fp32. `make models` rewrites it into this graph, which multiplies in int8
            // (MatMulInteger) with fused attention: ~2.4x the chunks per CPU second.
            onnx: embed.join("model_quantized.onnx"),
            tokenizer: embed.join("tokenizer.json"),
            config: embed.join("config.json"),
            special_tokens_map: embed.join("special_tokens_map.json"),
            tokenizer_config: embed.join("tokenizer_config.json"),
            runtime: models.join("runtime").join("libonnxruntime.so"),
        }
    }

    fn all(&self) -> [&Path; 6] {
        [
            &self.onnx,
            &self.tokenizer,
            &self.config,
            &self.special_tokens_map,
            &self.tokenizer_config,
            &self.runtime,
        ]
    }

    /// The first expected file that is missing, if any.
    pub fn missing(&self) -> Option<&Path> {
        self.all().into_iter().find(|p| !p.is_file())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("model file {0} is missing (run `make models`)")]
    MissingFile(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot load ONNX Runtime from {path}: {reason}")]
    Runtime { path: PathBuf, reason: String },
    #[error("cannot load the tokenizer {path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    #[error("embedding model: {0}")]
    Model(String),
}

pub struct Embedder {
    model: TextEmbedding,
    dimension: usize,
}

/// The process's one ONNX Runtime environment. Sessions find it through ort's global, which
/// holds it only weakly, so it is kept alive here for the life of the process.
static RUNTIME: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// Loads libonnxruntime from an explicit path, once per process. With only ORT_DYLIB_PATH a
/// missing library is a panic deep inside ort; here it is an error naming the file.
fn init_runtime(path: &Path) -> Result<ort::environment::Environment, EmbedError> {
    RUNTIME
        .get_or_init(|| {
            ort::init_from(path)
                .map_err(|e| e.to_string())?
                .with_name("dossier")
                // ONNX Runtime's telemetry exists only on Windows; say no anyway.
                .with_telemetry(false)
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|reason| EmbedError::Runtime {
            path: path.to_owned(),
            reason,
        })
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|source| EmbedError::Read {
        path: path.to_owned(),
        source,
    })
}

impl Embedder {
    /// `threads`: ONNX Runtime intra-op threads; `None` uses every core.
    pub fn load(files: &EmbedderFiles, threads: Option<usize>) -> Result<Self, EmbedError> {
        if let Some(missing) = files.missing() {
            return Err(EmbedError::MissingFile(missing.to_owned()));
        }
        let environment = init_runtime(&files.runtime)?;
        let tokenizer_files = TokenizerFiles {
            tokenizer_file: read(&files.tokenizer)?,
            config_file: read(&files.config)?,
            special_tokens_map_file: read(&files.special_tokens_map)?,
            tokenizer_config_file: read(&files.tokenizer_config)?,
        };
        let model = UserDefinedEmbeddingModel::new(read(&files.onnx)?, tokenizer_files)
            .with_pooling(Pooling::Mean);
        let mut options = InitOptionsUserDefined::new()
            .with_environment(environment)
            .with_max_length(MAX_INPUT_TOKENS)
            // ONNX Runtime's intra-op threads busy-wait between operators by default. On a
            // 2-core machine that anything else is also using, a spinning thread burns the
            // time slice the working one needs: ingest of the 7b reference corpus took 7-10
            // CPU seconds instead of 13-14 without it at load 8 (issue 6 7b;
            // docs/benchmarks-history.md).
            .with_session_config("session.intra_op.allow_spinning", "0");
        if let Some(threads) = threads {
            options = options.with_intra_threads(threads.max(1));
        }
        let mut model = TextEmbedding::try_new_from_user_defined(model, options)
            .map_err(|e| EmbedError::Model(e.to_string()))?;
        let probe = model
            .embed(["dimension probe"], None)
            .map_err(|e| EmbedError::Model(e.to_string()))?;
        let dimension = probe.first().map(Vec::len).unwrap_or(0);
        Ok(Self { model, dimension })
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn model_name(&self) -> &'static str {
        MODEL_NAME
    }

    /// Unit-length vectors, so that a dot product is the cosine similarity.
    pub fn embed(
        &mut self,
        texts: &[&str],
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = self
            .model
            .embed(texts, Some(batch_size.max(1)))
            .map_err(|e| EmbedError::Model(e.to_string()))?;
        for v in &mut vectors {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|x| *x /= norm);
            }
        }
        Ok(vectors)
    }

    pub fn embed_one(&mut self, text: &str) -> Result<Vec<f32>, EmbedError> {
        Ok(self.embed(&[text], 1)?.remove(0))
    }
}

/// The embedding model's tokenizer with truncation and padding off, for sizing chunks.
/// tokenizer.json ships with both set to 128, which would make every long text "fit".
pub fn sizing_tokenizer(files: &EmbedderFiles) -> Result<Tokenizer, EmbedError> {
    let mut tokenizer =
        Tokenizer::from_file(&files.tokenizer).map_err(|e| EmbedError::Tokenizer {
            path: files.tokenizer.clone(),
            reason: e.to_string(),
        })?;
    tokenizer
        .with_truncation(None)
        .map_err(|e| EmbedError::Tokenizer {
            path: files.tokenizer.clone(),
            reason: e.to_string(),
        })?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}
