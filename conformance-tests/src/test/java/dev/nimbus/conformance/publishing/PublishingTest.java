package dev.nimbus.conformance.publishing;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a consumer of Nimbus's artifacts gets: the BOM lists every published module at the reactor's version
 * (a module added to the reactor and forgotten in the BOM fails here), and the published API modules say
 * their module names. Read from the poms as Maven reads them.
 */
class PublishingTest {
    /** Reactor modules that are not published for users: tests, test helpers, the tarball's packaging. */
    private static final List<String> NOT_PUBLISHED = List.of("conformance-tests", "test-support", "distribution", "nimbus-bom");

    private static Path root() {
        Path here = Path.of("").toAbsolutePath();
        return Files.isRegularFile(here.resolve("nimbus-bom/pom.xml")) ? here : here.getParent();
    }

    private static Document pom(Path file) throws Exception {
        return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(file.toFile());
    }

    /** The text of {@code project/<name>} (a direct child of the root element). */
    private static String child(Document pom, String name) {
        for (Node n = pom.getDocumentElement().getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(name)) {
                return e.getTextContent().strip();
            }
        }
        return null;
    }

    private static List<String> texts(Document pom, String tag) {
        List<String> out = new ArrayList<>();
        NodeList nodes = pom.getElementsByTagName(tag);
        for (int i = 0; i < nodes.getLength(); i++) {
            out.add(nodes.item(i).getTextContent().strip());
        }
        return out;
    }

    @Test
    void theBomListsEveryPublishedModuleAtTheReactorsVersion() throws Exception {
        Path root = root();
        Document parent = pom(root.resolve("pom.xml"));
        Document bom = pom(root.resolve("nimbus-bom/pom.xml"));
        assertThat(child(bom, "version")).as("the BOM's version").isEqualTo(child(parent, "version"));
        assertThat(child(bom, "parent")).as("the BOM has no parent: importing it brings Nimbus's versions only").isNull();

        List<String> published = new ArrayList<>();
        for (String module : texts(parent, "module")) {
            if (!NOT_PUBLISHED.contains(module)) {
                published.add(child(pom(root.resolve(module).resolve("pom.xml")), "artifactId"));
            }
        }
        Map<String, String> listed = new TreeMap<>();
        NodeList deps = bom.getElementsByTagName("dependency");
        for (int i = 0; i < deps.getLength(); i++) {
            Element d = (Element) deps.item(i);
            assertThat(d.getElementsByTagName("groupId").item(0).getTextContent()).isEqualTo("dev.nimbus");
            listed.put(d.getElementsByTagName("artifactId").item(0).getTextContent(),
                    d.getElementsByTagName("version").item(0).getTextContent());
        }
        assertThat(published).contains("nimbus-api", "nimbus-junit", "vmm", "hypervisor-kvm");
        assertThat(listed.keySet()).containsExactlyInAnyOrderElementsOf(published);
        assertThat(listed.values()).containsOnly("${project.version}");
    }

    @Test
    void theApiModulesNameTheirJavaModules() throws Exception {
        Path root = root();
        assertThat(Files.readString(root.resolve("nimbus-api/pom.xml")))
                .contains("<Automatic-Module-Name>dev.nimbus.api</Automatic-Module-Name>");
        assertThat(Files.readString(root.resolve("nimbus-junit/pom.xml")))
                .contains("<Automatic-Module-Name>dev.nimbus.junit</Automatic-Module-Name>");
    }
}
