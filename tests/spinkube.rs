//! The SpinKube example (`host-examples/spinkube`) against the SpinApp CRD
//! that spin-operator v0.6.1 ships (`tests/data/spin-operator`), offline:
//! `tests/spinkube/validate.py` runs jsonschema over the CRD's
//! `openAPIV3Schema` with Kubernetes' strict field validation, and checks what
//! the schema cannot (references to the Secret and ConfigMap, the variables
//! spin.toml declares, the HPA's target). A second test breaks the example
//! in several ways and sees each refused, so the check can fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's Python, with jsonschema and PyYAML (tests/spinkube/requirements.txt).
fn python() -> PathBuf {
    let python = root().join("target/venv/bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import jsonschema, yaml"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !ready {
        panic!("target/venv has no Python with jsonschema and PyYAML: run `make tools`");
    }
    python
}

fn validate(dir: &Path) -> Output {
    Command::new(python())
        .arg(root().join("tests/spinkube/validate.py"))
        .arg(dir)
        .current_dir(root())
        .output()
        .expect("runs tests/spinkube/validate.py")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_example_is_valid() {
    let out = validate(&root().join("host-examples/spinkube"));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "validate.py refused host-examples/spinkube:\n{stderr}{stdout}");
    assert!(stdout.contains("SpinApp against core.spinkube.dev_spinapps.yaml"), "{stdout}");
    assert!(stdout.contains("38 variables as spin.toml [variables] declares"), "{stdout}");
}

/// One file of the example, changed: `from` (which must be there) becomes `to`.
struct Break {
    file: &'static str,
    from: &'static str,
    to: &'static str,
    /// What the refusal must say.
    says: &'static str,
}

const BREAKS: &[Break] = &[
    // A field the CRD does not have: the API server would refuse it.
    Break {
        file: "spinapp.yaml",
        from: "  enableAutoscaling: true\n",
        to: "  enableAutoscaling: true\n  replica: 3\n",
        says: "('replica' was unexpected)",
    },
    Break {
        file: "spinapp.yaml",
        from: "  enableAutoscaling: true\n",
        to: "  replicas: \"three\"\n",
        says: "spec.replicas: 'three' is not of type 'integer'",
    },
    Break {
        file: "secret.yaml",
        from: "\n  cache_key: ",
        to: "\n  cache_kee: ",
        says: "has no key 'cache_key'",
    },
    Break {
        file: "spinapp.yaml",
        from: "    - name: sts_audience\n      value: \"\"\n",
        to: "",
        says: "spec.variables lacks sts_audience",
    },
    Break {
        file: "spinapp.yaml",
        from: "      valueFrom:\n        secretKeyRef:\n          name: github-app-kms-token\n          key: cache_key\n",
        to: "      valueFrom:\n        configMapKeyRef:\n          name: github-app-kms-token\n          key: cache_tokens\n",
        says: "variable cache_key must come from a Secret",
    },
    Break {
        file: "hpa.yaml",
        from: "    apiVersion: apps/v1\n    kind: Deployment\n",
        to: "    apiVersion: core.spinkube.dev/v1alpha1\n    kind: SpinApp\n",
        says: "SpinApp has no scale subresource",
    },
    Break {
        file: "runtime-config.toml",
        from: "\nmount = ",
        to: "\nmount_point = ",
        says: "Spin refuses ['mount_point']",
    },
];

#[test]
fn a_broken_example_is_refused() {
    let example = root().join("host-examples/spinkube");
    for (n, broken) in BREAKS.iter().enumerate() {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("spinkube-broken-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&example).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
            }
        }
        let file = dir.join(broken.file);
        let original = std::fs::read_to_string(&file).unwrap();
        assert!(original.contains(broken.from), "{}: no {:?} to break", broken.file, broken.from);
        std::fs::write(&file, original.replacen(broken.from, broken.to, 1)).unwrap();

        let out = validate(&dir);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "break {n} ({}) was accepted:\n{stderr}", broken.says);
        assert!(stderr.contains(broken.says), "break {n}: expected {:?} in:\n{stderr}", broken.says);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
