import com.fasterxml.jackson.databind.ObjectMapper;
import io.apicurio.registry.rest.client.RegistryClient;
import io.apicurio.registry.rest.client.RegistryClientFactory;
import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Properties;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.io.JsonEncoder;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A non-Node registry client for jobbus's interop tests: Apicurio's own Kafka Avro serde,
 * configured for the Confluent wire format (magic byte 0, a 4-byte schema id, the Avro body;
 * no id headers). The id is the content id, which is what the registry's Confluent-compatible
 * API calls a schema id.
 *
 * <pre>
 * produce &lt;registryUrl&gt; &lt;subject&gt; &lt;record-json&gt;                 prints the serialized bytes as hex
 * consume &lt;registryUrl&gt; &lt;hex&gt;                                  prints the record as JSON
 * send    &lt;registryUrl&gt; &lt;subject&gt; &lt;record-json&gt; &lt;bootstrap&gt; &lt;topic&gt; &lt;key&gt; &lt;headers-json&gt;
 *                                            writes one Kafka record, prints "partition offset"
 * </pre>
 *
 * The record JSON is Avro's JSON encoding of the subject's latest schema (a union value is
 * wrapped as {"type": value}). registryUrl may be the Confluent-compatible URL
 * (.../apis/ccompat/v7); the serde talks to the core v2 API beside it.
 */
public final class JobbusInterop {
    private JobbusInterop() {}

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "";
        switch (mode) {
            case "produce" -> {
                need(args, 4);
                try (AvroKafkaSerializer<GenericRecord> ser = serializer(args[1], args[2])) {
                    GenericRecord record = parseRecord(args[1], args[2], args[3]);
                    System.out.println(HexFormat.of().formatHex(ser.serialize(topicOf(args[2]), record)));
                }
            }
            case "consume" -> {
                need(args, 3);
                try (AvroKafkaDeserializer<GenericRecord> de = new AvroKafkaDeserializer<>()) {
                    de.configure(serdeConfig(args[1]), false);
                    GenericRecord record = de.deserialize("interop", HexFormat.of().parseHex(args[2]));
                    System.out.println(toJson(record));
                }
            }
            case "send" -> {
                need(args, 8);
                System.out.println(send(args));
            }
            default -> {
                System.err.println("usage: produce <registryUrl> <subject> <json> | consume <registryUrl> <hex> | "
                        + "send <registryUrl> <subject> <json> <bootstrap> <topic> <key> <headers-json>");
                System.exit(2);
            }
        }
        // The registry client's HTTP threads are not daemons.
        System.exit(0);
    }

    private static void need(String[] args, int n) {
        if (args.length < n) {
            throw new IllegalArgumentException(args[0] + " needs " + (n - 1) + " arguments, got " + (args.length - 1));
        }
    }

    /** The registry's core v2 API: the 2.x serde's client speaks it, and Apicurio 3 still serves it. */
    static String coreUrl(String registryUrl) {
        String base = registryUrl.replaceAll("/+$", "");
        int ccompat = base.indexOf("/apis/");
        return (ccompat >= 0 ? base.substring(0, ccompat) : base) + "/apis/registry/v2";
    }

    /** The serde settings for the Confluent wire format: 4-byte content ids in the payload, no headers. */
    static Map<String, Object> serdeConfig(String registryUrl) {
        Map<String, Object> config = new HashMap<>();
        config.put("apicurio.registry.url", coreUrl(registryUrl));
        config.put("apicurio.registry.id-handler", "io.apicurio.registry.serde.Legacy4ByteIdHandler");
        config.put("apicurio.registry.use-id", "contentId");
        config.put("apicurio.registry.headers.enabled", "false");
        return config;
    }

    /** A serializer that writes with the latest version of `subject` (never registers one). */
    static AvroKafkaSerializer<GenericRecord> serializer(String registryUrl, String subject) {
        Map<String, Object> config = serdeConfig(registryUrl);
        // Subjects made through the Confluent-compatible API live in the default group.
        config.put("apicurio.registry.artifact.group-id", "default");
        config.put("apicurio.registry.artifact.artifact-id", subject);
        config.put("apicurio.registry.find-latest", "true");
        config.put("apicurio.registry.auto-register", "false");
        AvroKafkaSerializer<GenericRecord> ser = new AvroKafkaSerializer<>();
        ser.configure(config, false);
        return ser;
    }

    /** The topic the topic-name strategy gives `subject` (only used in the serializer's lookups). */
    static String topicOf(String subject) {
        return subject.endsWith("-value") ? subject.substring(0, subject.length() - "-value".length()) : subject;
    }

    /** Reads `json` (Avro JSON encoding) against the latest schema of `subject`, fetched with the registry's client. */
    static GenericRecord parseRecord(String registryUrl, String subject, String json) throws Exception {
        Schema schema;
        try (RegistryClient client = RegistryClientFactory.create(coreUrl(registryUrl));
                InputStream content = client.getLatestArtifact("default", subject)) {
            schema = new Schema.Parser().parse(new String(content.readAllBytes(), StandardCharsets.UTF_8));
        }
        return new GenericDatumReader<GenericRecord>(schema).read(null, DecoderFactory.get().jsonDecoder(schema, json));
    }

    static String toJson(GenericRecord record) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        JsonEncoder encoder = EncoderFactory.get().jsonEncoder(record.getSchema(), out);
        new GenericDatumWriter<GenericRecord>(record.getSchema()).write(record, encoder);
        encoder.flush();
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Writes one record through a KafkaProducer whose value serializer is the serde (acks=all). */
    static String send(String[] args) throws Exception {
        String registryUrl = args[1], subject = args[2], json = args[3], bootstrap = args[4], topic = args[5], key = args[6];
        @SuppressWarnings("unchecked")
        Map<String, String> headers = new ObjectMapper().readValue(args[7], Map.class);
        GenericRecord record = parseRecord(registryUrl, subject, json);
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, AvroKafkaSerializer.class.getName());
        props.putAll(serdeConfig(registryUrl));
        props.put("apicurio.registry.artifact.group-id", "default");
        props.put("apicurio.registry.artifact.artifact-id", subject);
        props.put("apicurio.registry.find-latest", "true");
        try (KafkaProducer<String, GenericRecord> producer = new KafkaProducer<>(props)) {
            ProducerRecord<String, GenericRecord> rec = new ProducerRecord<>(topic, key.isEmpty() ? null : key, record);
            headers.forEach((name, value) -> rec.headers().add(name, value.getBytes(StandardCharsets.UTF_8)));
            RecordMetadata meta = producer.send(rec).get();
            return meta.partition() + " " + meta.offset();
        }
    }
}
