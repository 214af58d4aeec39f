"""Page assets of the book: MathJax on every page (the sidebar shows chapter titles with math), and
each script once (sphinx-thebe's inline configuration otherwise reaches every page twice)."""


def _unique_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.set_html_assets_policy("always")
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True}
