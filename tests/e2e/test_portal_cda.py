"""A CDA R2 document in the portal: shown as readable HTML of our own, every value escaped, and
nothing of the document's markup (scripts, handlers, links, frames, images) on the page."""

from __future__ import annotations

import re

from tests.e2e.portal_documents import add

HOSTILE = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:h="http://www.w3.org/1999/xhtml">
  <title>Compte rendu &lt;script&gt;alert("titre")&lt;/script&gt;</title>
  <effectiveTime value="20260301103000+0100"/>
  <recordTarget><patientRole><patient>
    <name><given>Alice</given><family>Dupont</family></name>
    <administrativeGenderCode code="F"/><birthTime value="19850312"/>
  </patient></patientRole></recordTarget>
  <author><time value="20260301103000+0100"/><assignedAuthor>
    <code code="10" displayName="Médecin"/>
    <assignedPerson><name><prefix>Dr</prefix><given>Bruno</given><family>Martin</family></name></assignedPerson>
    <representedOrganization><name>Cabinet du Port</name></representedOrganization>
  </assignedAuthor></author>
  <component><structuredBody>
    <component><section>
      <title>Examen <script>alert("section")</script>clinique</title>
      <text>
        <paragraph onload="alert('onload')" styleCode="Bold">Tension normale.
          <script>alert("script")</script><h:script>alert("xhtml")</h:script>
          <content styleCode="Italics" onmouseover="alert('over')">Auscultation libre.</content>
        </paragraph>
        <paragraph>Voir <linkHtml href="javascript:alert('lien')">le dossier</linkHtml> et
          <linkHtml href="https://evil.example/phish">ce site</linkHtml>.</paragraph>
        <iframe src="https://evil.example/frame">cadre</iframe>
        <h:img src="https://evil.example/pixel.png"/>
        <renderMultiMedia referencedObject="MM1"/>
        <paragraph>&lt;img src=x onerror=alert(1)&gt; reste du texte</paragraph>
        <table border="1" onclick="alert('table')">
          <thead><tr><th>Examen</th><th>Résultat</th></tr></thead>
          <tbody><tr><th>Hémoglobine</th><td>13,5 g/dL</td></tr></tbody>
        </table>
        <list listType="ordered"><item>Premier</item><item>Second</item></list>
      </text>
      <entry><observationMedia ID="MM1"><value mediaType="image/png">
        <reference value="https://evil.example/image.png"/></value></observationMedia></entry>
      <component><section><title>Sous-section</title>
        <text><list><item>Point</item></list></text></section></component>
    </section></component>
  </structuredBody></component>
</ClinicalDocument>
""".encode()


def test_a_cda_is_shown_as_readable_html_and_inert(alice_browser, ctx, cast):
    doc = add(ctx, cast.bruno, cast.alice_dmp, HOSTILE, "text/xml", title="CR", type_code="11488-4")
    page = alice_browser.get(f"/documents/{doc.id}")
    assert page.status_code == 200
    html = page.text
    # What it says, readable: the header, the sections, the paragraphs, the table, the lists.
    assert "Compte rendu &lt;script&gt;alert(&#34;titre&#34;)&lt;/script&gt;" in html
    assert "<dd>Alice Dupont, née le 12 mars 1985</dd>" in html
    assert "<dd>1 mars 2026 à 10 h 30</dd>" in html
    assert "Dr Bruno Martin, Médecin — Cabinet du Port" in html
    assert "<h4>Examen clinique</h4>" in html
    assert "<p><strong>Tension normale." in html
    assert "<em>Auscultation libre.</em>" in html
    assert '<span class="cda-link">le dossier</span>' in html
    assert "&lt;img src=x onerror=alert(1)&gt; reste du texte" in html
    assert '<th scope="col">Examen</th><th scope="col">Résultat</th>' in html
    assert '<th scope="row">Hémoglobine</th><td>13,5 g/dL</td>' in html
    assert "<ol><li>Premier</li><li>Second</li></ol>" in html
    assert "<h5>Sous-section</h5>" in html
    assert "[image du document, non affichée]" in html
    # Nothing of its markup: the one script is the portal's own, no handler, link, frame or image.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/dmp.js" defer>']
    for inert in ("onload", "onmouseover", "onclick", "javascript:", "evil.example", "<iframe",
                  "<img", "h:", "alert(&#39;", 'alert("', "alert('", "border="):  # fmt: skip
        assert inert not in html, inert
    # What the unknown elements held is dropped with them, not shown as text.
    for dropped in ("&#34;script&#34;", "&#34;xhtml&#34;", "&#34;section&#34;", "cadre"):
        assert dropped not in html, dropped
    # The file itself is downloaded, never shown raw by the browser.
    raw = alice_browser.get(f"/documents/{doc.id}/contenu")
    assert raw.headers["content-disposition"].startswith("attachment; ")
    assert raw.headers["content-type"] == "application/xml"
    assert raw.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
