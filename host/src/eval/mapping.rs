//! Which model of the data answers for which model of the config.
//!
//! Plans name config models (`small`, `large`); the data names the models it measured
//! (`mistralai/Mixtral-8x7B-Instruct-v0.1`). The map, in order of precedence:
//!
//! 1. `--model-map small=weak,large=strong`: explicit pairs. The data side is a model name,
//!    or `weak` / `strong` for the data's weakest / strongest model (by mean score).
//! 2. Config model ids that the data also uses map to themselves (data exported from
//!    Switchyard's own decision log needs no flag).
//! 3. By rank: when the config and the data have the same number of models, the config's
//!    models ordered by tier (then price) pair up with the data's ordered weakest first.
//!
//! "Weak" and "strong" in the report are the lowest- and highest-ranked mapped config models.
//! A plan step naming an unmapped model cannot be answered offline: replay treats it like an
//! upstream failure (the proxy would move on to the next step) and the report counts it.

use std::collections::HashMap;

use super::data::Dataset;

/// One config model with the data model that answers for it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MappedModel {
    /// The config's model id.
    pub id: String,
    /// The data's model name.
    pub data_name: String,
    /// Index into [`Dataset::models`].
    #[serde(skip)]
    pub data_index: usize,
    /// USD per million tokens, from the config.
    pub input_price: f64,
    pub output_price: f64,
}

/// The config ↔ data pairing, in config rank order (tier, then price, then id).
#[derive(Debug, Clone)]
pub struct ModelMap {
    pub models: Vec<MappedModel>,
    by_id: HashMap<String, usize>,
}

impl MappedModel {
    /// Its config prices (eval refuses unpriced models before mapping).
    pub fn prices(&self) -> crate::config::Prices {
        crate::config::Prices { input: self.input_price, output: self.output_price, cached_input: self.input_price }
    }
}

impl ModelMap {
    /// The mapped model for config id `id`.
    pub fn get(&self, id: &str) -> Option<(usize, &MappedModel)> {
        self.by_id.get(id).map(|i| (*i, &self.models[*i]))
    }
    /// Index (into `models`) of the weak model: the lowest-ranked.
    pub fn weak(&self) -> usize {
        0
    }
    /// Index of the strong model: the highest-ranked.
    pub fn strong(&self) -> usize {
        self.models.len() - 1
    }
}

/// A config model as the mapping needs it.
#[derive(Debug, Clone)]
pub struct ConfigModel {
    pub id: String,
    pub input_price: f64,
    pub output_price: f64,
}

/// Why the models could not be paired.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MapError {
    #[error("--model-map: expected CONFIG_MODEL=DATA_MODEL pairs separated by commas, got `{0}`")]
    Syntax(String),
    #[error("--model-map: `{id}` is not a model of the config (models: {known})")]
    UnknownConfigModel { id: String, known: String },
    #[error("--model-map: `{name}` is not a model of the data (models: {known}; or `weak`, `strong`)")]
    UnknownDataModel { name: String, known: String },
    #[error("--model-map: `{0}` is mapped twice")]
    Duplicate(String),
    #[error(
        "cannot tell which data model answers for which config model: the config has {config} \
         models ({config_ids}) and the data {data} ({data_names}); pass --model-map, e.g. \
         --model-map {example}"
    )]
    Ambiguous { config: usize, config_ids: String, data: usize, data_names: String, example: String },
    #[error("eval compares at least two models, but only {0} is mapped")]
    TooFew(String),
}

/// Parses `a=b,c=d` (the flag may also be given several times; pass each value).
pub fn parse_pairs(values: &[String]) -> Result<Vec<(String, String)>, MapError> {
    let mut pairs = Vec::new();
    for value in values {
        for pair in value.split(',').filter(|p| !p.trim().is_empty()) {
            let (config, data) = pair.split_once('=').ok_or_else(|| MapError::Syntax(pair.to_string()))?;
            let (config, data) = (config.trim(), data.trim());
            if config.is_empty() || data.is_empty() {
                return Err(MapError::Syntax(pair.to_string()));
            }
            pairs.push((config.to_string(), data.to_string()));
        }
    }
    Ok(pairs)
}

/// Pairs `config_models` (in rank order) with the data's models.
pub fn build(
    config_models: &[ConfigModel],
    data: &Dataset,
    explicit: &[(String, String)],
) -> Result<ModelMap, MapError> {
    let data_index = |name: &str| -> Result<usize, MapError> {
        if let Some(i) = data.model_index(name) {
            return Ok(i);
        }
        match name {
            "weak" if !data.models.is_empty() => Ok(0),
            "strong" if !data.models.is_empty() => Ok(data.models.len() - 1),
            _ => Err(MapError::UnknownDataModel { name: name.to_string(), known: data.models.join(", ") }),
        }
    };
    let mut chosen: Vec<Option<usize>> = vec![None; config_models.len()];
    if !explicit.is_empty() {
        for (config, name) in explicit {
            let pos =
                config_models.iter().position(|m| &m.id == config).ok_or_else(|| MapError::UnknownConfigModel {
                    id: config.clone(),
                    known: config_models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>().join(", "),
                })?;
            if chosen[pos].is_some() {
                return Err(MapError::Duplicate(config.clone()));
            }
            chosen[pos] = Some(data_index(name)?);
        }
    } else {
        for (pos, model) in config_models.iter().enumerate() {
            chosen[pos] = data.model_index(&model.id);
        }
        if chosen.iter().flatten().count() < 2 {
            if config_models.len() != data.models.len() {
                let example = match (config_models.first(), config_models.last()) {
                    (Some(a), Some(b)) if config_models.len() >= 2 => format!("{}=weak,{}=strong", a.id, b.id),
                    _ => "MODEL=weak".to_string(),
                };
                return Err(MapError::Ambiguous {
                    config: config_models.len(),
                    config_ids: config_models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>().join(", "),
                    data: data.models.len(),
                    data_names: data.models.join(", "),
                    example,
                });
            }
            chosen = (0..config_models.len()).map(Some).collect();
        }
    }
    let models: Vec<MappedModel> = config_models
        .iter()
        .zip(&chosen)
        .filter_map(|(m, data_index)| {
            data_index.map(|data_index| MappedModel {
                id: m.id.clone(),
                data_name: data.models[data_index].clone(),
                data_index,
                input_price: m.input_price,
                output_price: m.output_price,
            })
        })
        .collect();
    if models.len() < 2 {
        return Err(MapError::TooFew(models.first().map_or_else(|| "none".to_string(), |m| m.id.clone())));
    }
    let by_id = models.iter().enumerate().map(|(i, m)| (m.id.clone(), i)).collect();
    Ok(ModelMap { models, by_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ids: &[&str]) -> Vec<ConfigModel> {
        ids.iter().map(|id| ConfigModel { id: id.to_string(), input_price: 1.0, output_price: 2.0 }).collect()
    }

    fn data(models: &[&str]) -> Dataset {
        Dataset { models: models.iter().map(|m| m.to_string()).collect(), ..Default::default() }
    }

    fn ids(map: &ModelMap) -> Vec<(String, String)> {
        map.models.iter().map(|m| (m.id.clone(), m.data_name.clone())).collect()
    }

    #[test]
    fn explicit_by_name_or_role() {
        let pairs = parse_pairs(&["small=weak, large=gpt-4".into()]).unwrap();
        let map = build(&config(&["small", "mid", "large"]), &data(&["mixtral", "gpt-4"]), &pairs).unwrap();
        assert_eq!(ids(&map), [("small".into(), "mixtral".into()), ("large".into(), "gpt-4".into())]);
        assert_eq!(map.get("large").unwrap().0, map.strong());
        assert!(map.get("mid").is_none());
    }

    #[test]
    fn same_names_then_rank() {
        let map = build(&config(&["a", "b"]), &data(&["b", "a", "c"]), &[]).unwrap();
        assert_eq!(ids(&map), [("a".into(), "a".into()), ("b".into(), "b".into())]);
        let map = build(&config(&["small", "large"]), &data(&["mixtral", "gpt-4"]), &[]).unwrap();
        assert_eq!(ids(&map), [("small".into(), "mixtral".into()), ("large".into(), "gpt-4".into())]);
    }

    #[test]
    fn errors() {
        assert!(matches!(parse_pairs(&["small".into()]), Err(MapError::Syntax(_))));
        let err = build(&config(&["s", "m", "l"]), &data(&["x", "y"]), &[]).unwrap_err();
        assert!(err.to_string().contains("--model-map s=weak,l=strong"), "{err}");
        let err = build(&config(&["s", "l"]), &data(&["x", "y"]), &parse_pairs(&["s=z".into()]).unwrap()).unwrap_err();
        assert_eq!(err, MapError::UnknownDataModel { name: "z".into(), known: "x, y".into() });
        let err = build(&config(&["s", "l"]), &data(&["x", "y"]), &parse_pairs(&["q=x".into()]).unwrap()).unwrap_err();
        assert!(matches!(err, MapError::UnknownConfigModel { .. }));
        let err =
            build(&config(&["s", "l"]), &data(&["x", "y"]), &parse_pairs(&["s=x,s=y".into()]).unwrap()).unwrap_err();
        assert_eq!(err, MapError::Duplicate("s".into()));
        let err = build(&config(&["s", "l"]), &data(&["x", "y"]), &parse_pairs(&["s=x".into()]).unwrap()).unwrap_err();
        assert_eq!(err, MapError::TooFew("s".into()));
    }
}
