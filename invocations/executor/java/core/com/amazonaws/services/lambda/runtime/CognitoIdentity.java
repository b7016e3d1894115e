package com.amazonaws.services.lambda.runtime;

/** The Amazon Cognito identity of a caller (mobile SDK invocations). */
public interface CognitoIdentity {
    String getIdentityId();

    String getIdentityPoolId();
}
