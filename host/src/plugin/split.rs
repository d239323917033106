//! Splitting a component's heavy core modules out so their compiled code is shared between
//! versions.
//!
//! Why: a componentize-py component is ~14 core modules, and the ones holding code (CPython
//! and its runtime, ~6.5 MB of code) are byte-identical in every Python plugin built with the
//! same componentize-py; what changes between versions is one module holding the
//! pre-initialised heap (11 MB of data, 5 KB of code) and some glue. Compiling the whole
//! component again for each version is ~1 s even with the baseline compiler.
//!
//! So, for the baseline tier, each embedded core module with more than
//! [`MIN_SHARED_CODE_BYTES`] of code is replaced in the component by an *import* of a core
//! module of the same type (the component model allows importing core modules), and the
//! host supplies it at link time, compiled once per content hash ([`super::cache`]). The
//! rewritten component keeps every index space as it was: a module import takes the place
//! of the module definition it replaces, and the one core type per import is the only core
//! type in the component (components that define core types are left whole).
//!
//! The rewrite is an optimization only: anything it does not understand returns `None` and
//! the component is compiled whole, which is always correct.

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{ComponentImportSection, ComponentTypeRef, CoreTypeSection, EntityType, ModuleType, RawSection};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

use super::cache::ContentHash;

/// Imports the rewrite adds are named with this prefix and the module's content hash. A
/// component that imports such a name itself is never rewritten, and the world check rejects
/// it as a foreign import.
pub(crate) const SHARED_MODULE_PREFIX: &str = "switchyard-shared-module-h";

/// Modules with less code than this are cheaper to compile than to share.
pub(crate) const MIN_SHARED_CODE_BYTES: usize = 64 * 1024;

const CORE_MODULE_SECTION: u8 = 1;
const CORE_TYPE_SECTION: u8 = 3;
const IMPORT_SECTION: u8 = 10;

/// A core module taken out of a component, to be supplied under `import_name`.
pub(crate) struct SharedModule {
    pub import_name: String,
    pub hash: ContentHash,
    pub bytes: Vec<u8>,
}

/// A component rewritten to import its heavy core modules, and those modules.
pub(crate) struct Split {
    pub component: Vec<u8>,
    pub modules: Vec<SharedModule>,
}

/// Splits `component`, or `None` when there is nothing worth sharing or the component has a
/// shape the rewrite does not handle.
pub(crate) fn split(component: &[u8]) -> Option<Split> {
    let sections = top_level_sections(component)?;
    if sections.iter().any(|s| s.id == CORE_TYPE_SECTION) || imports_shared_names(component, &sections)? {
        return None;
    }
    let mut out = wasm_encoder::Component::new();
    let mut modules = Vec::new();
    for section in &sections {
        let body = &component[section.body.clone()];
        if section.id == CORE_MODULE_SECTION && code_bytes(body)? >= MIN_SHARED_CODE_BYTES {
            let hash = ContentHash::of(body);
            let import_name = format!("{SHARED_MODULE_PREFIX}{hash}");
            let mut types = CoreTypeSection::new();
            types.ty().module(&module_type(body)?);
            out.section(&types);
            let mut import = ComponentImportSection::new();
            import.import(import_name.as_str(), ComponentTypeRef::Module(modules.len() as u32));
            out.section(&import);
            modules.push(SharedModule { import_name, hash, bytes: body.to_vec() });
        } else {
            out.section(&RawSection { id: section.id, data: body });
        }
    }
    (!modules.is_empty()).then(|| Split { component: out.finish(), modules })
}

struct Section {
    id: u8,
    body: std::ops::Range<usize>,
}

/// The top-level sections of a component binary, or `None` if it is not one.
fn top_level_sections(bytes: &[u8]) -> Option<Vec<Section>> {
    const COMPONENT_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    if bytes.get(..8)? != COMPONENT_PREAMBLE {
        return None;
    }
    let mut sections = Vec::new();
    let mut at = 8;
    while at < bytes.len() {
        let id = bytes[at];
        let (size, header) = read_leb_u32(bytes.get(at + 1..)?)?;
        let start = at + 1 + header;
        let end = start.checked_add(size as usize)?;
        if end > bytes.len() {
            return None;
        }
        sections.push(Section { id, body: start..end });
        at = end;
    }
    Some(sections)
}

fn read_leb_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for (i, byte) in bytes.iter().take(5).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Whether any top-level import already uses the names the rewrite adds.
fn imports_shared_names(component: &[u8], sections: &[Section]) -> Option<bool> {
    for section in sections.iter().filter(|s| s.id == IMPORT_SECTION) {
        let data = &component[section.body.clone()];
        let reader = wasmparser::ComponentImportSectionReader::new(wasmparser::BinaryReader::new(data, 0)).ok()?;
        for import in reader {
            if import.ok()?.name.name.starts_with(SHARED_MODULE_PREFIX) {
                return Some(true);
            }
        }
    }
    Some(false)
}

/// Bytes of code in a core module.
fn code_bytes(module: &[u8]) -> Option<usize> {
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::CodeSectionStart { size, .. } = payload.ok()? {
            return Some(size as usize);
        }
    }
    Some(0)
}

/// The type of a core module: its function types, imports and exports.
fn module_type(module: &[u8]) -> Option<ModuleType> {
    let mut reencode = RoundtripReencoder;
    let mut ty = ModuleType::new();
    let mut funcs: Vec<u32> = Vec::new();
    let mut tables = Vec::new();
    let mut memories = Vec::new();
    let mut globals = Vec::new();
    let mut tags = Vec::new();
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        match payload.ok()? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    let group = group.ok()?;
                    if group.is_explicit_rec_group() {
                        return None;
                    }
                    for sub in group.into_types() {
                        let func = match (&sub.composite_type.inner, sub.is_final, sub.supertype_idx) {
                            (wasmparser::CompositeInnerType::Func(func), true, None)
                                if !sub.composite_type.shared
                                    && sub.composite_type.descriptor_idx.is_none()
                                    && sub.composite_type.describes_idx.is_none() =>
                            {
                                func.clone()
                            }
                            _ => return None,
                        };
                        let params: Vec<_> =
                            func.params().iter().map(|v| reencode.val_type(*v)).collect::<Result<_, _>>().ok()?;
                        let results: Vec<_> =
                            func.results().iter().map(|v| reencode.val_type(*v)).collect::<Result<_, _>>().ok()?;
                        ty.ty().function(params, results);
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.ok()?;
                    match import.ty {
                        TypeRef::Func(index) => funcs.push(index),
                        TypeRef::Table(table) => tables.push(table),
                        TypeRef::Memory(memory) => memories.push(memory),
                        TypeRef::Global(global) => globals.push(global),
                        TypeRef::Tag(tag) => tags.push(tag),
                        _ => return None,
                    }
                    ty.import(import.module, import.name, reencode.entity_type(import.ty).ok()?);
                }
            }
            Payload::FunctionSection(reader) => {
                for index in reader {
                    funcs.push(index.ok()?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    tables.push(table.ok()?.ty);
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    memories.push(memory.ok()?);
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    globals.push(global.ok()?.ty);
                }
            }
            Payload::TagSection(reader) => {
                for tag in reader {
                    tags.push(tag.ok()?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.ok()?;
                    exports.push((export.name.to_string(), export.kind, export.index as usize));
                }
            }
            _ => {}
        }
    }
    for (name, kind, index) in exports {
        let entity = match kind {
            ExternalKind::Func => EntityType::Function(*funcs.get(index)?),
            ExternalKind::Table => EntityType::Table(reencode.table_type(*tables.get(index)?).ok()?),
            ExternalKind::Memory => EntityType::Memory(reencode.memory_type(*memories.get(index)?).ok()?),
            ExternalKind::Global => EntityType::Global(reencode.global_type(*globals.get(index)?).ok()?),
            ExternalKind::Tag => EntityType::Tag(reencode.tag_type(*tags.get(index)?).ok()?),
            _ => return None,
        };
        ty.export(&name, entity);
    }
    Some(ty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, ExportKind, ExportSection, Function, FunctionSection, ImportSection, Instruction, MemorySection,
        MemoryType, Module, TypeSection, ValType,
    };

    /// A core module with an imported function, a memory, an exported function and at least
    /// `code_bytes` of code.
    fn module(code_bytes: usize) -> Vec<u8> {
        let mut module = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([ValType::I32], [ValType::I32]);
        module.section(&types);
        let mut imports = ImportSection::new();
        imports.import("env", "f", EntityType::Function(0));
        module.section(&imports);
        let mut functions = FunctionSection::new();
        functions.function(0);
        module.section(&functions);
        let mut memories = MemorySection::new();
        memories.memory(MemoryType { minimum: 1, maximum: None, memory64: false, shared: false, page_size_log2: None });
        module.section(&memories);
        let mut exports = ExportSection::new();
        exports.export("run", ExportKind::Func, 1).export("memory", ExportKind::Memory, 0);
        module.section(&exports);
        let mut body = Function::new([]);
        for _ in 0..code_bytes {
            body.instruction(&Instruction::Nop);
        }
        body.instruction(&Instruction::LocalGet(0)).instruction(&Instruction::Call(0)).instruction(&Instruction::End);
        let mut code = CodeSection::new();
        code.function(&body);
        module.section(&code);
        module.finish()
    }

    fn component_with(modules: &[Vec<u8>]) -> Vec<u8> {
        let mut component = wasm_encoder::Component::new();
        for module in modules {
            component.section(&RawSection { id: CORE_MODULE_SECTION, data: module });
        }
        component.finish()
    }

    fn validate(component: &[u8]) {
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(component)
            .expect("a valid component");
    }

    #[test]
    fn heavy_modules_become_typed_imports_and_light_ones_stay() {
        let heavy = module(MIN_SHARED_CODE_BYTES);
        let light = module(16);
        let original = component_with(&[light.clone(), heavy.clone(), light]);
        validate(&original);
        let split = split(&original).expect("one module is worth sharing");
        validate(&split.component);
        assert_eq!(split.modules.len(), 1);
        let shared = &split.modules[0];
        assert_eq!(shared.bytes, heavy);
        assert_eq!(shared.hash, ContentHash::of(&heavy));
        assert_eq!(shared.import_name, format!("{SHARED_MODULE_PREFIX}{}", shared.hash));
        // The rewritten component imports exactly that module, under that name.
        let mut imports = Vec::new();
        for payload in Parser::new(0).parse_all(&split.component) {
            if let Payload::ComponentImportSection(reader) = payload.unwrap() {
                for import in reader {
                    imports.push(import.unwrap().name.name.to_string());
                }
            }
        }
        assert_eq!(imports, std::slice::from_ref(&shared.import_name));
    }

    #[test]
    fn leaves_what_it_does_not_understand_or_need() {
        assert!(split(b"not wasm").is_none());
        assert!(split(&module(MIN_SHARED_CODE_BYTES)).is_none(), "a core module is not a component");
        assert!(split(&component_with(&[module(16)])).is_none(), "nothing worth sharing");
        let heavy = component_with(&[module(MIN_SHARED_CODE_BYTES)]);
        assert!(split(&heavy[..heavy.len() - 1]).is_none(), "a cut component");
        // A component with core types of its own (this one also imports a module under our
        // prefix) is left whole, for the world check to judge.
        let mut component = wasm_encoder::Component::new();
        let mut types = CoreTypeSection::new();
        types.ty().module(&ModuleType::new());
        component.section(&types);
        let mut import = ComponentImportSection::new();
        import.import(format!("{SHARED_MODULE_PREFIX}0").as_str(), ComponentTypeRef::Module(0));
        component.section(&import);
        component.section(&RawSection { id: CORE_MODULE_SECTION, data: &module(MIN_SHARED_CODE_BYTES) });
        assert!(split(&component.finish()).is_none());
    }
}
