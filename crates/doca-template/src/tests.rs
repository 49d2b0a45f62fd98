use super::*;
use serde_json::json;

fn r(t: &str, v: serde_json::Value) -> String {
    Template::parse(t).unwrap_or_else(|e| panic!("{t}: {e}")).render(&v).unwrap_or_else(|e| panic!("{t}: {e}"))
}

#[test]
fn fields_pipes_and_functions() {
    let v = json!({"Repository": "busybox", "Tag": "latest", "Labels": {"b": "2", "a": "1"}, "List": ["x", "y"], "N": 3});
    assert_eq!(r("{{.Repository}}:{{.Tag}}", v.clone()), "busybox:latest");
    assert_eq!(r("{{json .Labels}}", v.clone()), r#"{"b":"2","a":"1"}"#);
    assert_eq!(r("{{.Labels}}", v.clone()), "map[a:1 b:2]");
    assert_eq!(r("{{.List}}", v.clone()), "[x y]");
    assert_eq!(r("{{join .List \",\"}}", v.clone()), "x,y");
    assert_eq!(r("{{.Repository | upper}}", v.clone()), "BUSYBOX");
    assert_eq!(r("{{printf \"%-8s|%3d\" .Tag .N}}", v.clone()), "latest  |  3");
    assert_eq!(r("{{index .Labels \"a\"}}", v.clone()), "1");
    // A struct's missing field is an error, as Go's; a map's missing key is no value.
    let err = Template::parse("{{.Missing}}").unwrap().render(&v).unwrap_err().to_string();
    assert_eq!(err, "template: :1: executing \"\" at <.Missing>: can't evaluate field Missing in type struct");
    assert_eq!(r("{{.Labels.missing}}", v.clone()), "<no value>");
    assert_eq!(r("{{len .List}} {{truncate .Repository 4}} {{pad .Tag 1 1}}", v.clone()), "2 busy  latest ");
    assert_eq!(r("{{(index .List 1) | title}}", v.clone()), "Y");
    assert_eq!(r("{{title \"hello world\"}}", v.clone()), "Hello World");
    assert_eq!(r("{{split \"a:b\" \":\"}}", v), "[a b]");
}

#[test]
fn control_flow_and_variables() {
    let v = json!({"Items": [{"Name": "a", "On": true}, {"Name": "b", "On": false}], "Empty": []});
    assert_eq!(r("{{range .Items}}{{.Name}}{{if .On}}+{{else}}-{{end}} {{end}}", v.clone()), "a+ b- ");
    assert_eq!(r("{{range $i, $e := .Items}}{{$i}}={{$e.Name}};{{end}}", v.clone()), "0=a;1=b;");
    assert_eq!(r("{{range .Empty}}x{{else}}none{{end}}", v.clone()), "none");
    assert_eq!(r("{{$n := \"q\"}}{{$n}}{{with .Items}}{{len .}}{{end}}", v.clone()), "q2");
    assert_eq!(r("{{if eq (len .Items) 1}}one{{else if eq (len .Items) 2}}two{{else}}many{{end}}", v.clone()), "two");
    assert_eq!(r("{{range .Items}}{{$.Empty}}{{end}}", v.clone()), "[][]");
    assert_eq!(r("a  {{- \"b\" -}}  c{{/* gone */}}", v), "abc");
}

#[test]
fn errors_name_the_problem() {
    assert!(matches!(Template::parse("{{.A"), Err(TemplateError::Parse { .. })));
    assert!(matches!(Template::parse("{{if .A}}x"), Err(TemplateError::Parse { .. })));
    assert!(matches!(Template::parse("{{end}}"), Err(TemplateError::Parse { .. })));
    let e = Template::parse("{{nosuch .}}").unwrap().render(&json!({})).unwrap_err();
    assert!(e.to_string().contains("function \"nosuch\" not defined"), "{e}");
    let e = Template::parse("{{.A.B}}").unwrap().render(&json!({"A": "s"})).unwrap_err();
    assert!(e.to_string().contains("can't evaluate field B"), "{e}");
}

#[test]
fn tabwriter_matches_docker_tables() {
    let mut t = TabWriter::default();
    t.write("REPOSITORY\tTAG\tIMAGE ID\n");
    t.write("busybox\tlatest\t0123456789ab\n");
    assert_eq!(t.finish(), "REPOSITORY   TAG       IMAGE ID\nbusybox      latest    0123456789ab\n");
}

#[test]
fn structs_print_as_go_prints_them_and_hidden_tables_are_methods() {
    let v = json!({
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "Labels": "a=1,b=2",
        "\u{0}Label": {"a": "1", "com.x": "y"},
    });
    assert_eq!(r("{{.RestartPolicy}}", v.clone()), "{no 0}");
    assert_eq!(r("{{.Label \"com.x\"}}|{{.Label \"nope\"}}|{{\"a\" | .Label}}", v.clone()), "y||1");
    assert_eq!(r("{{json .}}", v.clone()), r#"{"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"Labels":"a=1,b=2"}"#);
    assert_eq!(r("{{len .}}", v.clone()), "2");
    assert_eq!(r("{{range $k, $v := .}}{{$k}};{{end}}", v), "Labels;RestartPolicy;");
}
