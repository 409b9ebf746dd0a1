// evcharge test harness: one JVM that serves many EXI requests from stdin, line by line.
//
// It drives the EXIficient codec bundled in the iso15118 wheel (EXICodec.jar, Apache-2.0) in two ways:
//   * the JSON/JAXB path of com.siemens.ct.exi.main.cmd (what Josev uses): JSON in, EXI out and back;
//   * the EXIficient core alone with XML strings (SAX in, SAX out), with the factory settings of the V2G profile.
//
// Protocol (UTF-8, one request per line, one answer per line, answers in request order):
//   request : <command> <namespace> <payload in base64>
//   answer  : OK <result in base64>   or   ERR <message in base64>
// Commands:
//   enc        payload = JSON text                  -> EXI bytes  (EXICodec: document or, by the JSON root, fragment)
//   dec        payload = EXI bytes                  -> JSON text  (EXICodec)
//   encxml     payload = XML text                   -> EXI bytes  (EXIficient core, EXI document)
//   decxml     payload = EXI bytes                  -> XML text   (EXIficient core, EXI document)
//   encxmlfrag payload = XML text (one element)     -> EXI bytes  (EXIficient core, EXI fragment)
//   decxmlfrag payload = EXI bytes                  -> XML text   (EXIficient core, EXI fragment)
//   benchxml   payload = EXI bytes                  -> "<encode us> <decode us>": CPU microseconds per operation of
//              the core path (XML text -> EXI, EXI -> XML text), best of 5 runs of ~0.5 s each after a warm-up
//   ping       (namespace and payload ignored)      -> "pong"
//   version    (namespace and payload ignored)      -> EXICodec version
// EXICodec prints diagnostics on System.out; the harness moves System.out to stderr so that only answers reach stdout.
//
// The JAXB context of EXICodec is rebuilt on every call (20-40 ms). With the option --cache-jaxb the harness keeps one
// marshaller/unmarshaller pair per set of bound classes instead; the codec work is the same, only faster. After a
// failed JSON-path call the codec object is replaced (EXICodec carries state from a failure into the next call).
import com.siemens.ct.exi.core.EXIFactory;
import com.siemens.ct.exi.core.grammars.Grammars;
import com.siemens.ct.exi.core.helpers.DefaultEXIFactory;
import com.siemens.ct.exi.main.api.sax.EXIResult;
import com.siemens.ct.exi.main.api.sax.EXISource;
import com.siemens.ct.exi.main.cmd.AbstractEXICodec;
import com.siemens.ct.exi.main.cmd.BuiltInSchema;
import com.siemens.ct.exi.main.cmd.EXICodec;
import com.siemens.ct.exi.main.generatedgrammar.CommonAppProtocol;
import com.siemens.ct.exi.main.generatedgrammar.DINSpec_70121;
import com.siemens.ct.exi.main.generatedgrammar.ISO15118_20_V2G_CI_AC;
import com.siemens.ct.exi.main.generatedgrammar.ISO15118_20_V2G_CI_ACDP;
import com.siemens.ct.exi.main.generatedgrammar.ISO15118_20_V2G_CI_CommonMessages;
import com.siemens.ct.exi.main.generatedgrammar.ISO15118_20_V2G_CI_DC;
import com.siemens.ct.exi.main.generatedgrammar.ISO15118_20_V2G_CI_WPT;
import com.siemens.ct.exi.main.generatedgrammar.ISO15118_2Grammar;
import com.siemens.ct.exi.main.generatedgrammar.XMLDSIG_Core_Schema_Grammar;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import javax.xml.parsers.SAXParserFactory;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.stream.StreamResult;
import org.xml.sax.InputSource;
import org.xml.sax.XMLReader;

public class ExiBatch {

    /** EXICodec's JSON path with an optional cache of JAXB marshaller/unmarshaller pairs. */
    static final class CachingCodec extends AbstractEXICodec {
        private final boolean cache;
        private final Map<String, Object[]> pairs = new HashMap<>();

        CachingCodec(boolean cache) {
            this.cache = cache;
        }

        @Override
        protected synchronized void setJaxbContext(Class... classes) {
            if (!cache) {
                super.setJaxbContext(classes);
                return;
            }
            String key = Arrays.toString(classes);
            Object[] pair = pairs.get(key);
            if (pair == null) {
                super.setJaxbContext(classes);
                pairs.put(key, new Object[] {getMarshaller(), getUnmarshaller()});
            } else {
                setMarshaller((javax.xml.bind.Marshaller) pair[0]);
                setUnmarshaller((javax.xml.bind.Unmarshaller) pair[1]);
            }
        }

        @Override
        public float get_version() {
            return new EXICodec().get_version();
        }

        byte[] encodeJson(String json, BuiltInSchema schema) throws Exception {
            resetLastEncodingError();
            byte[] out = encode_json(json, schema);
            if (out == null) throw new Exception(nonEmpty(lastEncodingError, "encoder returned nothing"));
            return out;
        }

        String decodeExi(byte[] exi, BuiltInSchema schema) throws Exception {
            String out = decode_exi(exi, schema);
            if (out == null) throw new Exception(nonEmpty(lastDecodingError, "decoder returned nothing"));
            return out;
        }
    }

    static String nonEmpty(String s, String fallback) {
        return s == null || s.isEmpty() ? fallback : s;
    }

    static final Map<String, BuiltInSchema> SCHEMAS = new HashMap<>();
    static final Map<String, Supplier<Grammars>> GRAMMARS = new HashMap<>();

    static {
        SCHEMAS.put("urn:iso:15118:2:2010:AppProtocol", BuiltInSchema.AppProtocol);
        SCHEMAS.put("urn:din:70121:2012:MsgDef", BuiltInSchema.DINSpec_70121);
        SCHEMAS.put("urn:iso:15118:2:2013:MsgDef", BuiltInSchema.ISO15118_2);
        SCHEMAS.put("http://www.w3.org/2000/09/xmldsig#", BuiltInSchema.XSDCore);
        SCHEMAS.put("urn:iso:std:iso:15118:-20:CommonMessages", BuiltInSchema.ISO15118_20_V2G_CI_CommonMessages);
        SCHEMAS.put("urn:iso:std:iso:15118:-20:AC", BuiltInSchema.ISO15118_20_V2G_CI_AC);
        SCHEMAS.put("urn:iso:std:iso:15118:-20:DC", BuiltInSchema.ISO15118_20_V2G_CI_DC);
        SCHEMAS.put("urn:iso:std:iso:15118:-20:WPT", BuiltInSchema.ISO15118_20_V2G_CI_WPT);
        SCHEMAS.put("urn:iso:std:iso:15118:-20:ACDP", BuiltInSchema.ISO15118_20_V2G_CI_ACDP);
        GRAMMARS.put("urn:iso:15118:2:2010:AppProtocol", CommonAppProtocol::new);
        GRAMMARS.put("urn:din:70121:2012:MsgDef", DINSpec_70121::new);
        GRAMMARS.put("urn:iso:15118:2:2013:MsgDef", ISO15118_2Grammar::new);
        GRAMMARS.put("http://www.w3.org/2000/09/xmldsig#", XMLDSIG_Core_Schema_Grammar::new);
        GRAMMARS.put("urn:iso:std:iso:15118:-20:CommonMessages", ISO15118_20_V2G_CI_CommonMessages::new);
        GRAMMARS.put("urn:iso:std:iso:15118:-20:AC", ISO15118_20_V2G_CI_AC::new);
        GRAMMARS.put("urn:iso:std:iso:15118:-20:DC", ISO15118_20_V2G_CI_DC::new);
        GRAMMARS.put("urn:iso:std:iso:15118:-20:WPT", ISO15118_20_V2G_CI_WPT::new);
        GRAMMARS.put("urn:iso:std:iso:15118:-20:ACDP", ISO15118_20_V2G_CI_ACDP::new);
    }

    /**
     * The EXIficient core with the V2G profile settings (see ExiCoreBench.java in shared/tools). Public so that a
     * py4j gateway can drive it too (benchmarks/_exificient.py).
     */
    public static final class Core {
        private final Map<String, EXIFactory> factories = new HashMap<>();
        private final Transformer transformer;
        private final XMLReader xmlReader;

        public Core() throws Exception {
            transformer = TransformerFactory.newInstance().newTransformer();
            SAXParserFactory spf = SAXParserFactory.newInstance();
            spf.setNamespaceAware(true);
            xmlReader = spf.newSAXParser().getXMLReader();
        }

        public EXIFactory factory(String ns, boolean fragment) throws Exception {
            String key = ns + (fragment ? "#fragment" : "#document");
            EXIFactory ef = factories.get(key);
            if (ef == null) {
                Supplier<Grammars> g = GRAMMARS.get(ns);
                if (g == null) throw new Exception("unknown namespace " + ns);
                ef = DefaultEXIFactory.newInstance();
                ef.setValueMaxLength(0);
                ef.setValuePartitionCapacity(0);
                ef.setMaximumNumberOfBuiltInElementGrammars(0);
                ef.setMaximumNumberOfBuiltInProductions(0);
                ef.setGrammars(g.get());
                ef.setFragment(fragment);
                factories.put(key, ef);
            }
            return ef;
        }

        public byte[] encode(String ns, boolean fragment, String xml) throws Exception {
            ByteArrayOutputStream bos = new ByteArrayOutputStream(256);
            EXIResult res = new EXIResult(factory(ns, fragment));
            res.setOutputStream(bos);
            xmlReader.setContentHandler(res.getHandler());
            xmlReader.parse(new InputSource(new StringReader(xml)));
            return bos.toByteArray();
        }

        public String decode(String ns, boolean fragment, byte[] exi) throws Exception {
            StringWriter sw = new StringWriter();
            EXISource src = new EXISource(factory(ns, fragment));
            src.setInputSource(new InputSource(new ByteArrayInputStream(exi)));
            transformer.transform(src, new StreamResult(sw));
            return sw.toString();
        }
    }

    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (sb.length() > 0) sb.append(" <- ");
            String m = c.getMessage();
            if (c instanceof Exception && c.getClass() == Exception.class && m != null) sb.append(m);
            else sb.append(c.getClass().getName()).append(m == null ? "" : ": " + m);
            if (c.getCause() == c) break;
        }
        return sb.toString();
    }

    public static void main(String[] args) throws Exception {
        boolean cache = Arrays.asList(args).contains("--cache-jaxb");
        PrintStream protocolOut = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        System.setOut(System.err);
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(protocolOut, StandardCharsets.UTF_8), 1 << 16);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16);
        Base64.Encoder b64e = Base64.getEncoder();
        Base64.Decoder b64d = Base64.getDecoder();
        CachingCodec codec = new CachingCodec(cache);
        Core core = new Core();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] p = line.split(" ", 3);
            String cmd = p[0];
            String ns = p.length > 1 ? p[1] : "";
            byte[] payload;
            String answer;
            try {
                payload = p.length > 2 ? b64d.decode(p[2].trim()) : new byte[0];
                byte[] result;
                switch (cmd) {
                    case "ping":
                        result = "pong".getBytes(StandardCharsets.UTF_8);
                        break;
                    case "version":
                        result = Float.toString(codec.get_version()).getBytes(StandardCharsets.UTF_8);
                        break;
                    case "enc":
                        result = codec.encodeJson(new String(payload, StandardCharsets.UTF_8), schema(ns));
                        break;
                    case "dec":
                        result = codec.decodeExi(payload, schema(ns)).getBytes(StandardCharsets.UTF_8);
                        break;
                    case "encxml":
                    case "encxmlfrag":
                        result = core.encode(ns, cmd.endsWith("frag"), new String(payload, StandardCharsets.UTF_8));
                        break;
                    case "decxml":
                    case "decxmlfrag":
                        result = core.decode(ns, cmd.endsWith("frag"), payload).getBytes(StandardCharsets.UTF_8);
                        break;
                    case "benchxml":
                        result = benchCore(core, ns, payload).getBytes(StandardCharsets.UTF_8);
                        break;
                    default:
                        throw new Exception("unknown command " + cmd);
                }
                answer = "OK " + b64e.encodeToString(result);
            } catch (Throwable t) {
                answer = "ERR " + b64e.encodeToString(describe(t).getBytes(StandardCharsets.UTF_8));
                if (cmd.equals("enc")) {
                    // EXICodec keeps state from a failed JSON unmarshal (unmarshaller left in JSON mode), making the
                    // next call fail too. A fresh codec after every failure keeps each answer independent.
                    codec = new CachingCodec(cache);
                }
            }
            out.write(answer);
            out.write('\n');
            if (!in.ready()) out.flush();
        }
        out.flush();
    }

    static String benchCore(Core core, String ns, byte[] exi) throws Exception {
        String xml = core.decode(ns, false, exi);
        if (!Arrays.equals(core.encode(ns, false, xml), exi)) throw new Exception("the core path does not round-trip");
        java.lang.management.ThreadMXBean tm = java.lang.management.ManagementFactory.getThreadMXBean();
        double bestEnc = Double.MAX_VALUE, bestDec = Double.MAX_VALUE;
        long warm = System.nanoTime();
        while (System.nanoTime() - warm < 2_000_000_000L) { core.encode(ns, false, xml); core.decode(ns, false, exi); }
        for (int rep = 0; rep < 5; rep++) {
            long n = 0, c0 = tm.getCurrentThreadCpuTime(), end = System.nanoTime() + 500_000_000L;
            while (System.nanoTime() < end) { core.encode(ns, false, xml); n++; }
            bestEnc = Math.min(bestEnc, (tm.getCurrentThreadCpuTime() - c0) / 1e3 / n);
            n = 0; c0 = tm.getCurrentThreadCpuTime(); end = System.nanoTime() + 500_000_000L;
            while (System.nanoTime() < end) { core.decode(ns, false, exi); n++; }
            bestDec = Math.min(bestDec, (tm.getCurrentThreadCpuTime() - c0) / 1e3 / n);
        }
        return String.format(java.util.Locale.ROOT, "%.3f %.3f", bestEnc, bestDec);
    }

    static BuiltInSchema schema(String ns) throws Exception {
        BuiltInSchema s = SCHEMAS.get(ns);
        if (s == null) throw new Exception("unknown namespace " + ns);
        return s;
    }
}
