import java.util.List;

/** One configured back end (a dialect with its options), mounted under /<variant>. */
public interface Backend {
    Reply handle(String method, String path, String rawQuery, String body) throws Exception;

    /** The reference client: seal the given inputs exactly as the app-side Java code does. */
    String seal(List<String[]> inputs) throws Exception;

    void expire();

    String stats();
}
