//! What a component is, read with wasmparser before anything is compiled: its top-level
//! imports and exports (to hold the manifest to them) and the size of its code (so code that
//! would take minutes to compile is refused for the price of one parse).

use wasmparser::{Parser, Payload};

/// Bounds on the code of a package's component, checked before compiling. The defaults
/// admit the largest first-party guests (an 18 MB componentize-py component with ~30 000
/// functions) with room to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLimits {
    /// The whole component, in bytes (also the layer's download cap).
    pub max_component_bytes: u64,
    /// Functions defined across all its core modules.
    pub max_functions: u32,
    /// The largest single function body, in bytes: compile time grows faster than linearly
    /// in it.
    pub max_function_body_bytes: u32,
}

impl Default for CodeLimits {
    fn default() -> Self {
        CodeLimits { max_component_bytes: 64 << 20, max_functions: 200_000, max_function_body_bytes: 4 << 20 }
    }
}

/// The facts about a component that the manifest is checked against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentFacts {
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    pub functions: u32,
    pub largest_body: u32,
}

/// Reads `bytes`' facts, refusing it as soon as a limit is passed.
pub fn inspect(bytes: &[u8], limits: &CodeLimits) -> Result<ComponentFacts, String> {
    if bytes.len() as u64 > limits.max_component_bytes {
        return Err(format!(
            "the component is {} bytes, over the {}-byte limit",
            bytes.len(),
            limits.max_component_bytes
        ));
    }
    let mut facts = ComponentFacts::default();
    // Nesting depth: 0 is the outer component, whose imports and exports are its world.
    let mut depth = 0usize;
    let mut is_component = false;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("not a valid WebAssembly component: {e}"))?;
        match payload {
            Payload::Version { encoding, .. } if depth == 0 && !is_component => {
                is_component = encoding == wasmparser::Encoding::Component;
                if !is_component {
                    return Err("it is a core WebAssembly module, not a component".to_string());
                }
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    let import = import.map_err(|e| format!("unreadable import: {e}"))?;
                    // Type imports (the types an exported function uses) are not capabilities,
                    // and wasmtime's component type does not list them either.
                    if !matches!(import.ty, wasmparser::ComponentTypeRef::Type(_)) {
                        facts.imports.push(import.name.name.to_string());
                    }
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    let export = export.map_err(|e| format!("unreadable export: {e}"))?;
                    if export.kind != wasmparser::ComponentExternalKind::Type {
                        facts.exports.push(export.name.name.to_string());
                    }
                }
            }
            Payload::CodeSectionStart { count, .. } => {
                facts.functions = facts.functions.saturating_add(count);
                if facts.functions > limits.max_functions {
                    return Err(format!(
                        "it defines more than {} functions, the limit (checked before compiling)",
                        limits.max_functions
                    ));
                }
            }
            Payload::CodeSectionEntry(body) => {
                let size = body.range().len() as u32;
                facts.largest_body = facts.largest_body.max(size);
                if size > limits.max_function_body_bytes {
                    return Err(format!(
                        "a function body is {size} bytes, over the {}-byte limit (checked before compiling)",
                        limits.max_function_body_bytes
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, Component, ComponentExportKind, ComponentExportSection, Function, FunctionSection, Instruction,
        Module, ModuleSection, TypeSection,
    };

    /// A component holding one core module with `functions` functions of `body` nops each.
    fn component(functions: u32, body: usize) -> Vec<u8> {
        let mut module = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        module.section(&types);
        let mut funcs = FunctionSection::new();
        for _ in 0..functions {
            funcs.function(0);
        }
        module.section(&funcs);
        let mut code = CodeSection::new();
        for _ in 0..functions {
            let mut f = Function::new([]);
            for _ in 0..body {
                f.instruction(&Instruction::Nop);
            }
            f.instruction(&Instruction::End);
            code.function(&f);
        }
        module.section(&code);
        let mut component = Component::new();
        component.section(&ModuleSection(&module));
        let mut exports = ComponentExportSection::new();
        exports.export("m", ComponentExportKind::Module, 0, None);
        component.section(&exports);
        component.finish()
    }

    #[test]
    fn reads_top_level_exports_and_counts_code() {
        let facts = inspect(&component(3, 10), &CodeLimits::default()).unwrap();
        assert_eq!(facts.exports, ["m"]);
        assert!(facts.imports.is_empty());
        assert_eq!(facts.functions, 3);
        assert!(facts.largest_body >= 11);
    }

    #[test]
    fn code_over_a_limit_is_refused_before_compiling() {
        let limits = CodeLimits { max_component_bytes: 1 << 20, max_functions: 5, max_function_body_bytes: 1000 };
        assert!(inspect(&component(6, 1), &limits).unwrap_err().contains("functions"));
        assert!(inspect(&component(1, 2000), &limits).unwrap_err().contains("function body"));
        let big = component(1, 1 << 20);
        assert!(inspect(&big, &limits).unwrap_err().contains("byte limit"));
    }

    #[test]
    fn modules_and_garbage_are_not_components() {
        assert!(inspect(&Module::new().finish(), &CodeLimits::default()).unwrap_err().contains("core"));
        assert!(inspect(b"\0asm garbage", &CodeLimits::default()).is_err());
    }
}
