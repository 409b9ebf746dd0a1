import com.siemens.ct.exi.core.grammars.Grammars;
import com.siemens.ct.exi.core.grammars.grammar.*;
import com.siemens.ct.exi.core.grammars.production.Production;
import com.siemens.ct.exi.core.grammars.event.*;
import com.siemens.ct.exi.core.context.*;
import com.siemens.ct.exi.core.datatype.*;
import java.util.*;

// evcharge test helper: prints the EXI grammars that EXICodec.jar ships (EXIficient's precompiled grammars of the
// V2G schemas), state by state, so that tests/exi/test_grammar_reference.py can compare them with ours.
// Usage: java -cp EXICodec.jar:. GrammarDump <grammar class simple name>...  (com.siemens.ct.exi.main.generatedgrammar)
// Output per class: "F <class>", then "E <uri> <local> <grammar id>" per global element, "G <id> <type> <events>
// <has EE> ..." per grammar and "P <grammar id> <event code> <event type> [{uri}local] [se=<id>] [dt=...] next=<id>"
// per production.
public class GrammarDump {
    static IdentityHashMap<Grammar,Integer> ids = new IdentityHashMap<>();
    static ArrayDeque<Grammar> todo = new ArrayDeque<>();
    static int id(Grammar g) {
        if (g == null) return -1;
        Integer i = ids.get(g);
        if (i == null) { i = ids.size(); ids.put(g, i); todo.add(g); }
        return i;
    }
    static String dt(Datatype d) {
        if (d == null) return "-";
        String s = d.getBuiltInType().toString();
        if (d instanceof NBitUnsignedIntegerDatatype) s += ":" + ((NBitUnsignedIntegerDatatype) d).getNumberOfBits();
        if (d instanceof EnumerationDatatype) s += ":" + ((EnumerationDatatype) d).getEnumerationSize();
        return s;
    }
    public static void main(String[] args) throws Exception {
        StringBuilder out = new StringBuilder();
        for (String a : args) {
            ids.clear();
            todo.clear();
            out.append("F ").append(a).append("\n");
            dump(a, out);
        }
        System.out.print(out);
    }

    static void dump(String name, StringBuilder out) throws Exception {
        Grammars gs = (Grammars) Class.forName("com.siemens.ct.exi.main.generatedgrammar." + name).getDeclaredConstructor().newInstance();
        GrammarContext gc = gs.getGrammarContext();
        for (int u = 0; u < gc.getNumberOfGrammarUriContexts(); u++) {
            GrammarUriContext uc = gc.getGrammarUriContext(u);
            for (int q = 0; q < uc.getNumberOfQNames(); q++) {
                QNameContext qc = uc.getQNameContext(q);
                StartElement se = qc.getGlobalStartElement();
                if (se != null) out.append("E ").append(uc.getNamespaceUri()).append(" ").append(qc.getLocalName()).append(" ").append(id(se.getGrammar())).append("\n");
            }
        }
        while (!todo.isEmpty()) {
            Grammar g = todo.poll();
            int gid = ids.get(g);
            String extra = "";
            if (g instanceof SchemaInformedFirstStartTagGrammar) {
                SchemaInformedFirstStartTagGrammar f = (SchemaInformedFirstStartTagGrammar) g;
                extra = " tc=" + f.isTypeCastable() + " nil=" + f.isNillable() + " content=" + id(g.getElementContentGrammar());
            }
            out.append("G ").append(gid).append(" ").append(g.getGrammarType()).append(" ").append(g.getNumberOfEvents()).append(" ").append(g.hasEndElement()).append(extra).append("\n");
            for (int c = 0; c < g.getNumberOfEvents(); c++) {
                Production p = g.getProduction(c);
                Event ev = p.getEvent();
                out.append("P ").append(gid).append(" ").append(p.getEventCode()).append(" ").append(ev.getEventType());
                if (ev instanceof StartElement) {
                    StartElement se = (StartElement) ev;
                    out.append(" {").append(se.getQName().getNamespaceURI()).append("}").append(se.getQName().getLocalPart()).append(" se=").append(id(se.getGrammar()));
                } else if (ev instanceof Attribute) {
                    Attribute at = (Attribute) ev;
                    out.append(" {").append(at.getQName().getNamespaceURI()).append("}").append(at.getQName().getLocalPart()).append(" dt=").append(dt(at.getDatatype()));
                } else if (ev instanceof StartElementNS) {
                    out.append(" {").append(((StartElementNS) ev).getNamespaceURI()).append("}*");
                } else if (ev instanceof DatatypeEvent) {
                    out.append(" dt=").append(dt(((DatatypeEvent) ev).getDatatype()));
                }
                out.append(" next=").append(id(p.getNextGrammar())).append("\n");
            }
        }
    }
}
