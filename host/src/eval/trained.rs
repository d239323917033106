//! Items a route's learned model was trained on. A score on them flatters the model, so eval
//! warns, and `--exclude-trained` drops them.
//!
//! A plugin's configuration (its `config` table plus the text of its `files`) whose `model`
//! key holds a `switchyard train` model file (inline or as the file's text) counts; the model
//! records the FNV-1a hash of each training item's user text, the key of eval's holdout split.

use switchyard_features::model::{FORMAT, Model};

use super::data::{Item, fnv1a};
use crate::config::Config;

/// A trained model found on the route.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    pub plugin: String,
    pub model: Model,
}

/// The learned models among `plugins` (the route's plugin names).
pub fn models(config: &Config, plugins: &[&str]) -> Vec<TrainedModel> {
    let mut out = Vec::new();
    for name in plugins {
        let Some(cfg) = config.plugins.get(*name) else { continue };
        let parsed = match cfg.config_value().get("model") {
            Some(serde_json::Value::String(text)) => serde_json::from_str::<Model>(text).ok(),
            Some(value @ serde_json::Value::Object(_)) => serde_json::from_value::<Model>(value.clone()).ok(),
            _ => None,
        };
        if let Some(model) = parsed.filter(|m| m.format == FORMAT)
            && !out.iter().any(|t: &TrainedModel| t.plugin == *name)
        {
            out.push(TrainedModel { plugin: name.to_string(), model });
        }
    }
    out
}

/// Whether any of `models` was trained on `item`.
pub fn is_trained(models: &[TrainedModel], item: &Item) -> bool {
    if models.is_empty() {
        return false;
    }
    let hash = fnv1a(item.key_text().as_bytes());
    models.iter().any(|t| t.model.trained_on(hash))
}

/// The warning for `count` of `total` items seen in training.
pub fn warning(models: &[TrainedModel], count: usize, total: usize, excluded: bool) -> String {
    let names: Vec<String> = models.iter().map(|t| format!("`{}`", t.plugin)).collect();
    if excluded {
        format!(
            "--exclude-trained: dropped {count} of {total} items that the model of {} was trained on",
            names.join(", ")
        )
    } else {
        format!(
            "{count} of {total} items were in the training set of the model of {}: scores on them are \
             optimistic; --exclude-trained drops them (or compare the holdout part)",
            names.join(", ")
        )
    }
}
