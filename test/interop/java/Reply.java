/** One HTTP answer of a back end. */
public class Reply {
    final int status;
    final String contentType;
    final String body;

    Reply(int status, String contentType, String body) {
        this.status = status;
        this.contentType = contentType;
        this.body = body;
    }

    static Reply text(String body) {
        return new Reply(200, "text/plain;charset=UTF-8", body);
    }

    static Reply json(String body) {
        return new Reply(200, "application/json;charset=UTF-8", body);
    }
}
