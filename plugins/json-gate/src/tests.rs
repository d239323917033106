use super::*;
use serde_json::json;

fn req(wants_json: bool, schema: Option<Value>) -> Request {
    let mut r = Request::from_user("give me json");
    r.wants_json = wants_json;
    r.json_schema = schema.map(|s| s.to_string());
    r
}

fn run(config: &Config, req: &Request, content: &str) -> Verdict {
    check(config, req, &Candidate::new("m", content))
}

fn errors(value: Value, schema: Value) -> Vec<String> {
    schema::validate(&value, &schema)
}

#[test]
fn not_requested_accepts() {
    assert_eq!(run(&Config::default(), &req(false, None), "not json at all"), Verdict::Accept(1.0));
}

#[test]
fn syntax_and_fences() {
    let c = Config::default();
    let r = req(true, None);
    assert_eq!(run(&c, &r, r#" {"a": 1} "#), Verdict::Accept(1.0));
    assert_eq!(run(&c, &r, "```json\n{\"a\": 1}\n```"), Verdict::Accept(1.0));
    assert_eq!(run(&c, &r, "```\n[1, 2]\n```"), Verdict::Accept(1.0));
    assert!(
        matches!(run(&c, &r, "Sure! {\"a\": 1}"), Verdict::Escalate(m) if m.starts_with("answer is not valid JSON"))
    );
    let no_fence = parse_config(r#"{"allow_fence": false}"#).unwrap();
    assert!(matches!(run(&no_fence, &r, "```json\n{}\n```"), Verdict::Escalate(_)));
    let object = parse_config(r#"{"require_object": true}"#).unwrap();
    assert!(matches!(run(&object, &r, "[1]"), Verdict::Escalate(m) if m.contains("not an object")));
    assert!(parse_config(r#"{"allow_fences": true}"#).unwrap_err().contains("unknown field `allow_fences`"));
}

#[test]
fn schema_from_request_and_openai_wrapper() {
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
    let c = Config::default();
    for doc in [schema.clone(), json!({"name": "thing", "strict": true, "schema": schema})] {
        let r = req(false, Some(doc));
        assert_eq!(run(&c, &r, r#"{"n": 3}"#), Verdict::Accept(1.0));
        let v = run(&c, &r, r#"{"n": "3"}"#);
        assert_eq!(v, Verdict::Escalate("answer does not match the schema: $.n: expected integer, got string".into()));
    }
    let off = parse_config(r#"{"enforce_schema": false}"#).unwrap();
    assert_eq!(run(&off, &req(false, Some(schema)), r#"{"n": "3"}"#), Verdict::Accept(1.0));
    // An unparsable schema: syntax only.
    let mut bad = req(false, None);
    bad.json_schema = Some("{not json".into());
    assert_eq!(run(&c, &bad, "{}"), Verdict::Accept(1.0));
}

#[test]
fn types() {
    assert!(errors(json!(1.0), json!({"type": "integer"})).is_empty());
    assert!(!errors(json!(1.5), json!({"type": "integer"})).is_empty());
    assert!(errors(json!(1), json!({"type": "number"})).is_empty());
    assert!(errors(json!(null), json!({"type": ["string", "null"]})).is_empty());
    assert_eq!(errors(json!(true), json!({"type": ["string", "null"]})), ["$: expected string or null, got boolean"]);
}

#[test]
fn objects() {
    let schema = json!({
        "type": "object",
        "properties": {"name": {"type": "string", "minLength": 2, "maxLength": 5}, "age": {"minimum": 0, "maximum": 150}},
        "required": ["name", "age"],
        "additionalProperties": false
    });
    assert!(errors(json!({"name": "Ann", "age": 30}), schema.clone()).is_empty());
    assert_eq!(
        errors(json!({"name": "A", "extra": 1}), schema.clone()),
        [
            "$: missing required property `age`",
            "$: property `extra` is not allowed",
            "$.name: string of 1 characters is shorter than minLength 2"
        ]
    );
    assert_eq!(errors(json!({"name": "Ann", "age": 200}), schema), ["$.age: 200 is above maximum 150"]);
    let typed_extra = json!({"additionalProperties": {"type": "number"}});
    assert_eq!(errors(json!({"a": 1, "b": "x"}), typed_extra), ["$.b: expected number, got string"]);
}

#[test]
fn arrays_enums_consts() {
    let schema = json!({"type": "array", "items": {"enum": ["a", "b", 1]}, "minItems": 1, "maxItems": 2});
    assert!(errors(json!(["a", 1.0]), schema.clone()).is_empty());
    assert_eq!(errors(json!([]), schema.clone()), ["$: 0 items, fewer than minItems 1"]);
    assert_eq!(
        errors(json!(["a", "c", "b"]), schema),
        ["$: 3 items, more than maxItems 2", "$[1]: \"c\" is not one of [\"a\",\"b\",1]"]
    );
    assert_eq!(errors(json!("x"), json!({"const": "y"})), ["$: \"x\" is not \"y\""]);
    let tuple = json!({"items": [{"type": "string"}, {"type": "number"}]});
    assert_eq!(errors(json!(["a", "b"]), tuple), ["$[1]: expected number, got string"]);
}

#[test]
fn refs_combinators_and_unknown_keywords() {
    let schema = json!({
        "$defs": {"pos": {"type": "integer", "exclusiveMinimum": 0}},
        "type": "object",
        "properties": {"x": {"$ref": "#/$defs/pos"}, "y": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/pos"}]}},
        "format": "whatever", "pattern": "^a"
    });
    assert!(errors(json!({"x": 1, "y": "s"}), schema.clone()).is_empty());
    assert_eq!(
        errors(json!({"x": 0, "y": -1}), schema),
        ["$.x: 0 is not above exclusiveMinimum 0", "$.y: matches none of anyOf"]
    );
    assert_eq!(errors(json!(1), json!({"oneOf": [{"type": "number"}, {"type": "integer"}]})).len(), 1);
    assert!(!errors(json!(1), json!({"not": {"type": "number"}})).is_empty());
    assert_eq!(errors(json!(1), json!(false)), ["$: no value is allowed here"]);
    // A self-referencing schema terminates.
    let looped = json!({"$ref": "#"});
    assert!(errors(json!(1), looped).is_empty());
}

#[test]
fn many_errors_are_summarised() {
    let schema = json!({"type": "array", "items": {"type": "string"}});
    let r = req(false, Some(schema));
    let v = run(&Config::default(), &r, "[1, 2, 3, 4, 5]");
    let Verdict::Escalate(msg) = v else { panic!() };
    assert!(msg.ends_with("(and 2 more)"), "{msg}");
}
