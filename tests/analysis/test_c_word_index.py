"""``WordIndex`` answers exactly what ``identifier_pattern`` finds in a node's own text, or
declines (None) so that the walk falls back to the regex."""

from __future__ import annotations

from ads.analysis.c.syntax import WordIndex, identifier_pattern, parse_c, walk

SOURCE = b"""
int f(char *p, char *pp) {
    char *buf = malloc(4);  /* p in a comment */
    printf("%s", p);
    if (pp && buf) { free(buf); }
    s->min = buf; $x = 1;
    return p_1 + 1;
}
"""


def _function():
    root = parse_c(SOURCE).root_node
    return next(n for n in walk(root) if n.type == "function_definition")


def test_mentions_agrees_with_the_regex_on_every_node() -> None:
    fn = _function()
    index = WordIndex(fn)
    for words in ({"p"}, {"pp"}, {"buf"}, {"p", "buf"}, {"printf"}, {"p_1"}, {"$x"}, {"q"}):
        pattern = identifier_pattern(frozenset(words))
        for node in walk(fn):
            found = index.mentions(node, frozenset(words))
            if found is not None:
                assert found == (pattern.search(node.text or b"") is not None), (words, node)


def test_mentions_declines_what_it_cannot_answer_exactly() -> None:
    fn = _function()
    index = WordIndex(fn)
    body = fn.child_by_field_name("body")
    assert body is not None
    assert index.mentions(body, frozenset({"s->min"})) is None  # not an identifier
    other = next(n for n in walk(parse_c(b"int g(void) { return p; }").root_node))
    assert index.mentions(other, frozenset({"p"})) is None  # not inside the function
